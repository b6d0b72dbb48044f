"""The figures of a disclosure report, read from a ledger (every number a sum over line items).

Units: J and Wh, g CO2e, gCO2e/kWh, USD.  A ratio whose denominator is zero is ``None`` (shown
as "n/a"), never 0 and never NaN.  Scope 2 is reported location-based (the spans' grid intensity)
and market-based (the user's contractual factors per zone; zones without one fall back to the
location-based figure, and the report says which).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from otel_carbon import sci
from otel_carbon.ledger.lineitem import DEFAULT_SCOPES, SCOPE2, SCOPE3_CAT1
from otel_carbon.ledger.store import DAY, GroupTotals, Ledger
from otel_carbon.report.period import Period

#: Joules in one watt-hour (reports show energy in Wh).
J_PER_WH = sci.JOULES_PER_KWH / 1000.0

#: The documented columns of a report row (CSV header after the group keys; JSON row fields).
COLUMNS: tuple[str, ...] = (
    "calls",
    "input_tokens",
    "output_tokens",
    "energy_j",
    "energy_accelerator_j",
    "energy_host_j",
    "energy_idle_j",
    "energy_overhead_j",
    "energy_low_j",
    "energy_high_j",
    "operational_g",
    "embodied_g",
    "carbon_g",
    "carbon_low_g",
    "carbon_high_g",
    "cost_usd",
    "cost_unknown_calls",
    "sci_per_request_g",
    "sci_per_1k_tokens_g",
    "tokens_per_wh",
    "measured_share",
    "fallback_intensity_share",
)
#: Facets read in one pass for the scope split, data quality and the chart over time.
_FACETS = ("scope", "supply", "zone", "model_match", "energy_method", "intensity_source", "boundary", DAY)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def figures(t: GroupTotals) -> dict[str, Any]:
    """The :data:`COLUMNS` of one group."""
    tokens = t.input_tokens + t.output_tokens
    return {
        "calls": t.calls,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "energy_j": t.energy_j,
        "energy_accelerator_j": t.energy_accelerator_j,
        "energy_host_j": t.energy_host_j,
        "energy_idle_j": t.energy_idle_j,
        "energy_overhead_j": t.energy_overhead_j,
        "energy_low_j": t.energy_low_j,
        "energy_high_j": t.energy_high_j,
        "operational_g": t.operational_g,
        "embodied_g": t.embodied_g,
        "carbon_g": t.carbon_g,
        "carbon_low_g": t.carbon_low_g,
        "carbon_high_g": t.carbon_high_g,
        "cost_usd": t.known_cost_usd,
        "cost_unknown_calls": t.cost_unknown_calls,
        "sci_per_request_g": _ratio(t.carbon_g, t.calls),
        "sci_per_1k_tokens_g": _ratio(t.carbon_g, tokens / 1000),
        "tokens_per_wh": _ratio(tokens, t.energy_j / J_PER_WH),
        "measured_share": _ratio(t.measured_calls, t.calls),
        "fallback_intensity_share": _ratio(t.fallback_calls, t.calls),
    }


def _merge(rows: Sequence[GroupTotals], key: Callable[[GroupTotals], Any]) -> dict[Any, GroupTotals]:
    """Sum facet rows by ``key`` (the additive fields; first/last times as min/max)."""
    merged: dict[Any, GroupTotals] = {}
    for row in rows:
        k = key(row)
        into = merged.setdefault(k, GroupTotals(group={}))
        for f in fields(GroupTotals):
            if f.name == "group":
                continue
            value, current = getattr(row, f.name), getattr(into, f.name)
            if f.name in ("first_ns", "last_ns"):
                if value is not None:
                    pick = min if f.name == "first_ns" else max
                    setattr(into, f.name, value if current is None else pick(current, value))
            else:
                setattr(into, f.name, current + value)
    return merged


def _change(now: float | None, before: float | None) -> float | None:
    """Percent change against the previous period (None when there was nothing, or nothing known, before)."""
    if now is None or before is None or before <= 0:
        return None
    return (now - before) / before * 100.0


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Report:
    """A period's report; :meth:`as_dict` is the JSON document (``totals`` and ``rows`` among its keys)."""

    period: Period
    previous_period: Period
    ledger: str
    by: tuple[str, ...]
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
    previous: dict[str, Any]
    change_percent: dict[str, float | None]
    scopes: dict[str, Any]
    quality: dict[str, Any]
    over_time: list[dict[str, Any]]
    missing: dict[str, Any]
    methodology: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def period(p: Period) -> dict[str, str]:
            return {"label": p.label, "start": p.start.isoformat(), "end": p.end.isoformat()}

        return {
            "period": period(self.period),
            "previous_period": period(self.previous_period),
            "ledger": self.ledger,
            "group_by": list(self.by),
            "totals": self.totals,
            "rows": self.rows,
            "previous": self.previous,
            "change_percent": self.change_percent,
            "scopes": self.scopes,
            "data_quality": self.quality,
            "over_time": self.over_time,
            "missing": self.missing,
            "methodology": self.methodology,
        }


def _scopes(facets: Sequence[GroupTotals], market_factors: Mapping[str, float]) -> dict[str, Any]:
    by_scope = _merge(facets, lambda r: r.group["scope"])
    scope2 = by_scope.get(SCOPE2, GroupTotals(group={}))
    scope3 = by_scope.get(SCOPE3_CAT1, GroupTotals(group={}))
    market_g, covered_j, fallback_zones = 0.0, 0.0, set()
    for (zone,), t in _merge([r for r in facets if r.group["scope"] == SCOPE2],
                             lambda r: (r.group["zone"],)).items():
        factor = market_factors.get(str(zone))
        if factor is None:
            market_g += t.operational_g
            fallback_zones.add(str(zone))
        else:
            market_g += sci.operational_g(t.energy_j, factor)
            covered_j += t.energy_j
    classes = _merge(facets, lambda r: (r.group["supply"], r.group["scope"]))
    other = {k: v for k, v in by_scope.items() if k not in (SCOPE2, SCOPE3_CAT1)}
    return {
        "scope2": {
            "calls": scope2.calls,
            "energy_j": scope2.energy_j,
            "location_based_g": scope2.operational_g,
            "market_based_g": market_g,
            "market_factor_coverage": _ratio(covered_j, scope2.energy_j),
            "market_fallback_zones": sorted(fallback_zones),
            "embodied_g": scope2.embodied_g,
        },
        "scope3_cat1": {
            "calls": scope3.calls,
            "energy_j": scope3.energy_j,
            "operational_g": scope3.operational_g,
            "embodied_g": scope3.embodied_g,
            "carbon_g": scope3.carbon_g,
        },
        "embodied_g": sum(t.embodied_g for t in by_scope.values()),
        "unclassified_calls": sum(t.calls for t in other.values()),
        "classification": [
            {"supply": supply, "scope": scope, "calls": t.calls, "default_scope": DEFAULT_SCOPES.get(str(supply))}
            for (supply, scope), t in sorted(classes.items(), key=lambda kv: str(kv[0]))
        ],
        "market_factors": dict(sorted(market_factors.items())),
    }


def _quality(facets: Sequence[GroupTotals], total: GroupTotals) -> dict[str, Any]:
    matches = _merge([r for r in facets if r.group["energy_method"] != "measured"],
                     lambda r: r.group["model_match"] or "unknown")
    sources = _merge(facets, lambda r: r.group["intensity_source"] or "unknown")
    return {
        "measured_share_calls": _ratio(total.measured_calls, total.calls),
        "measured_share_carbon": _ratio(total.measured_carbon_g, total.carbon_g),
        "estimated_calls": total.calls - total.measured_calls,
        "fallback_intensity_share_calls": _ratio(total.fallback_calls, total.calls),
        "fallback_intensity_share_carbon": _ratio(total.fallback_carbon_g, total.carbon_g),
        "model_match_of_estimates": {k: t.calls for k, t in sorted(matches.items())},
        "intensity_sources": {k: t.calls for k, t in sorted(sources.items())},
        "cost_unknown_calls": total.cost_unknown_calls,
    }


def build_report(
    ledger: Ledger,
    period: Period,
    by: Sequence[str] = (),
    market_factors: Mapping[str, float] | None = None,
) -> Report:
    """Read ``period`` (and the one before) from ``ledger``; see :class:`Report`."""
    market_factors = dict(market_factors or {})
    start, end = period.start, period.end
    total = ledger.totals(start, end)[0]
    rows = ledger.totals(start, end, by=tuple(by)) if by else []
    facets = [r for r in ledger.totals(start, end, by=_FACETS) if r.calls]
    previous_period = period.previous()
    before = ledger.totals(previous_period.start, previous_period.end)[0]
    days = _merge(facets, lambda r: r.group[DAY])
    keys = ("calls", "energy_j", "carbon_g", "cost_usd")
    now_figures, before_figures = figures(total), figures(before)
    gaps = ledger.gaps(start, end)
    retained = ledger.retained_from_ns
    start_ns = int(start.timestamp()) * 10**9
    boundaries = sorted({str(r.group["boundary"]) for r in facets if r.group["boundary"]})
    report = Report(
        period=period,
        previous_period=previous_period,
        ledger=ledger.url.redacted(),
        by=tuple(by),
        totals=now_figures,
        rows=[{**row.group, **figures(row)} for row in rows],
        previous=before_figures,
        change_percent={k: _change(now_figures[k], before_figures[k]) for k in keys},
        scopes=_scopes(facets, market_factors),
        quality=_quality(facets, total),
        over_time=[{"day": day, "calls": t.calls, "energy_j": t.energy_j, "carbon_g": t.carbon_g,
                    "embodied_g": t.embodied_g} for day, t in sorted(days.items())],
        missing={
            "dropped_calls": sum(g.dropped for g in gaps),
            "gaps": [{"first": _iso(g.first_ns), "last": _iso(g.last_ns), "dropped": g.dropped,
                      "reason": g.reason, "recorded_by": g.recorded_by} for g in gaps],
            "retention_deleted_before": _iso(retained) if retained is not None and retained > start_ns else None,
        },
        methodology={"boundaries": boundaries},
    )
    from otel_carbon.report.methodology import methodology_sections  # it reads the Report built here

    report.methodology["sections"] = methodology_sections(report)
    return report
