"""Compare two runs per functional unit and attribute each change to its causes.

Functional units (never totals, so more traffic or more tests is not a regression):

* ``test`` — g CO2e per execution of one test (its node id), for each test in both runs;
* ``call`` — g CO2e per GenAI call, over the calls of the tests present in both runs.

A unit *regresses* when the candidate exceeds the baseline by more than
``max_increase_pct``.  Estimated energy is deterministic, so estimated units are
compared exactly (a relative tolerance of 1e-9 absorbs float rounding).  A unit
with measured energy is noisy: it regresses only when the one-sided
Mann–Whitney U test (:mod:`otel_carbon.gates.stats`) rejects, at ``alpha``, that
the candidate samples are no larger than the baseline samples times
``1 + max_increase_pct/100``; with too few repeated samples for the test to
reach ``alpha`` the unit is ``inconclusive`` (reported, not failed).

Attribution.  Operational carbon of a unit factors exactly as
``calls × tokens/call × J/token × g/J``; the change is split among the four
factors by the logarithmic mean Divisia index (LMDI-I), whose parts add up to
the whole change, and embodied carbon is its own part.  Each part is named by
what changed underneath it: tokens per call → ``tokens_in`` / ``tokens_out``;
J per token → ``model``, ``cache`` (cached share of input), ``boundary``,
``method`` (estimated ↔ measured), or ``energy_per_token`` when several or none
did (a new output share with nothing else changed is the token change's doing:
output tokens cost more than input tokens, so it joins ``tokens_out`` or
``tokens_in``); g per J → ``zone`` or ``intensity``.
All figures come from the records (enriched span attributes); nothing is recomputed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from otel_carbon import sci
from otel_carbon.gates.records import CallRecord, TestRecord
from otel_carbon.gates.stats import mann_whitney_greater, smallest_p

_RTOL = 1e-9

STATUSES = ("ok", "regression", "improved", "inconclusive", "added", "removed")


@dataclass(frozen=True)
class Cause:
    """One part of a unit's change: ``name`` (stable, see the module doc), a readable ``detail``,
    and ``delta_g``, its share of the change in g CO2e per functional unit (parts add up to the change)."""

    name: str
    detail: str
    delta_g: float


@dataclass(frozen=True)
class UnitDiff:
    """The comparison of one functional unit; figures in g CO2e per unit (``None`` where a side is absent)."""

    unit: str  # test | call
    key: str  # the test's node id, or "all" for the call unit
    status: str  # one of STATUSES
    baseline_g: float | None
    candidate_g: float | None
    change_pct: float | None
    comparison: str  # exact | mann-whitney
    p_value: float | None
    samples: tuple[int, int]  # (baseline, candidate) executions or calls
    causes: tuple[Cause, ...] = ()

    def headline(self) -> str:
        """One line: the unit, its change, and its main causes."""
        change = "new GenAI calls" if self.change_pct is None else f"{self.change_pct:+.1f}%"
        figures = f"{_g(self.baseline_g)} → {_g(self.candidate_g)} g CO2e per {self.unit}"
        named = "; ".join(f"{c.detail} ({c.delta_g:+.3g} g)" for c in self.causes if c.delta_g > 0)
        line = f"{self.key} [{self.unit}] {change} ({figures})"
        if self.comparison == "mann-whitney" and self.p_value is not None:
            line += f", Mann-Whitney p={self.p_value:.3g}"
        return f"{line}: {named}" if named else line


@dataclass
class DiffReport:
    """Every unit's comparison, with the threshold and significance level used."""

    max_increase_pct: float
    alpha: float
    units: list[UnitDiff] = field(default_factory=list)

    @property
    def regressions(self) -> list[UnitDiff]:
        return [u for u in self.units if u.status == "regression"]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON contract of ``otel-carbon diff --json``."""
        return {
            "max_increase_pct": self.max_increase_pct,
            "alpha": self.alpha,
            "regression": bool(self.regressions),
            "units": [
                {**asdict(u), "samples": {"baseline": u.samples[0], "candidate": u.samples[1]}} for u in self.units
            ],
        }


@dataclass(frozen=True)
class _Profile:
    """Means per functional unit (per test execution, or per call) of one side."""

    calls: float
    input_tokens: float
    output_tokens: float
    cached_tokens: float
    energy_j: float
    operational_g: float
    embodied_g: float
    models: tuple[str, ...]
    zones: tuple[str, ...]
    boundaries: tuple[str, ...]
    methods: tuple[str, ...]

    @property
    def tokens(self) -> float:
        return self.input_tokens + self.output_tokens

    @property
    def carbon_g(self) -> float:
        return self.operational_g + self.embodied_g


def _profile(calls: Sequence[CallRecord], units: int) -> _Profile:
    def mean(total: float) -> float:
        return total / units if units else 0.0

    return _Profile(
        calls=mean(len(calls)),
        input_tokens=mean(sum(c.input_tokens for c in calls)),
        output_tokens=mean(sum(c.output_tokens for c in calls)),
        cached_tokens=mean(sum(c.cached_input_tokens for c in calls)),
        energy_j=mean(sum(c.energy_j for c in calls)),
        operational_g=mean(sum(max(c.carbon_g - c.embodied_g, 0.0) for c in calls)),
        embodied_g=mean(sum(c.embodied_g for c in calls)),
        models=tuple(sorted({c.model for c in calls})),
        zones=tuple(sorted({c.zone for c in calls})),
        boundaries=tuple(sorted({c.boundary for c in calls})),
        methods=tuple(sorted({c.method for c in calls})),
    )


def compare(
    baseline: Iterable[TestRecord],
    candidate: Iterable[TestRecord],
    *,
    max_increase_pct: float = 5.0,
    alpha: float = 0.05,
) -> DiffReport:
    """Compare ``candidate`` with ``baseline`` per test and per call (see the module doc).

    ``max_increase_pct`` >= 0 (percent); ``alpha`` in (0, 1).  Tests with no
    counted call on either side are left out (nothing to compare).
    """
    if not (max_increase_pct >= 0 and math.isfinite(max_increase_pct)):
        raise ValueError("max_increase_pct must be a finite number >= 0")
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie in (0, 1)")
    base, cand = _by_test(baseline), _by_test(candidate)
    report = DiffReport(max_increase_pct, alpha)
    limit = 1.0 + max_increase_pct / 100.0
    common = [key for key in base if key in cand]
    for key in common:
        b, c = base[key], cand[key]
        if not any(t.calls for t in b) and not any(t.calls for t in c):
            continue
        report.units.append(_compare_unit(
            "test", key, [t.carbon_g for t in b], [t.carbon_g for t in c],
            _profile(_calls(b), len(b)), _profile(_calls(c), len(c)), _measured(b, c), limit, alpha,
        ))
    base_calls = [call for key in common for call in _calls(base[key])]
    cand_calls = [call for key in common for call in _calls(cand[key])]
    if base_calls and cand_calls:
        report.units.append(_compare_unit(
            "call", "all", [x.carbon_g for x in base_calls], [x.carbon_g for x in cand_calls],
            _profile(base_calls, len(base_calls)), _profile(cand_calls, len(cand_calls)),
            any(x.method == "measured" for x in base_calls + cand_calls), limit, alpha,
        ))
    for key, side, status in [(k, base, "removed") for k in base if k not in cand] + [
        (k, cand, "added") for k in cand if k not in base
    ]:
        if any(t.calls for t in side[key]):
            mean_g = sum(t.carbon_g for t in side[key]) / len(side[key])
            report.units.append(UnitDiff(
                "test", key, status, mean_g if status == "removed" else None, mean_g if status == "added" else None,
                None, "exact", None, (len(side[key]), 0) if status == "removed" else (0, len(side[key])),
            ))
    return report


def _by_test(records: Iterable[TestRecord]) -> dict[str, list[TestRecord]]:
    grouped: dict[str, list[TestRecord]] = defaultdict(list)
    for record in records:
        grouped[record.nodeid].append(record)
    return dict(grouped)


def _calls(records: Sequence[TestRecord]) -> list[CallRecord]:
    return [call for record in records for call in record.calls]


def _measured(*sides: Sequence[TestRecord]) -> bool:
    return any(call.method == "measured" for side in sides for call in _calls(side))


def _compare_unit(
    unit: str,
    key: str,
    base_samples: Sequence[float],
    cand_samples: Sequence[float],
    base: _Profile,
    cand: _Profile,
    measured: bool,
    limit: float,
    alpha: float,
) -> UnitDiff:
    mean_b = sum(base_samples) / len(base_samples)
    mean_c = sum(cand_samples) / len(cand_samples)
    change = (mean_c / mean_b - 1.0) * 100.0 if mean_b > 0 else None
    p_value: float | None = None
    if mean_b <= 0:
        status = "regression" if mean_c > 0 else "ok"
    elif not measured:
        status = (
            "regression" if mean_c > mean_b * limit * (1 + _RTOL)
            else "improved" if mean_c * limit * (1 + _RTOL) < mean_b
            else "ok"
        )
    elif smallest_p(len(cand_samples), len(base_samples)) >= alpha:
        status = "inconclusive" if mean_c > mean_b * limit else "ok"
    else:
        p_value = mann_whitney_greater(cand_samples, [b * limit for b in base_samples])
        improved = mann_whitney_greater(base_samples, [c * limit for c in cand_samples]) < alpha
        status = "regression" if p_value < alpha else "improved" if improved else "ok"
    causes = attribute(base, cand) if status in ("regression", "inconclusive", "improved") else ()
    return UnitDiff(
        unit, key, status, mean_b, mean_c, change, "mann-whitney" if measured else "exact", p_value,
        (len(base_samples), len(cand_samples)), causes,
    )


def attribute(base: _Profile, cand: _Profile) -> tuple[Cause, ...]:
    """The causes of the change from ``base`` to ``cand``, largest increase first (LMDI-I, module doc)."""
    causes: list[Cause] = []
    if cand.embodied_g != base.embodied_g:
        causes.append(Cause("embodied", f"embodied {_g(base.embodied_g)} → {_g(cand.embodied_g)} g",
                            cand.embodied_g - base.embodied_g))
    op_b, op_c = base.operational_g, cand.operational_g
    factors_b, factors_c = _factors(base), _factors(cand)
    if op_b <= 0 or op_c <= 0 or factors_b is None or factors_c is None:
        if op_c != op_b:
            causes.append(Cause("calls", f"calls {base.calls:g} → {cand.calls:g} per unit", op_c - op_b))
        return _ranked(causes)
    weight = _log_mean(op_c, op_b)
    effect = {
        name: 0.0 if math.isclose(factors_c[name], factors_b[name], rel_tol=_RTOL)
        else weight * math.log(factors_c[name] / factors_b[name])
        for name in factors_b
    }
    if abs(effect["calls"]) > 0:
        causes.append(Cause("calls", f"calls {base.calls:g} → {cand.calls:g} per unit", effect["calls"]))
    causes.extend(_token_causes(base, cand, effect["tokens_per_call"]))
    causes.extend(_energy_causes(base, cand, effect["energy_per_token"]))
    causes.extend(_intensity_causes(base, cand, effect["carbon_per_joule"]))
    return _ranked(_merged(causes))


def _factors(p: _Profile) -> dict[str, float] | None:
    """``calls × tokens/call × J/token × g/J`` = operational g; ``None`` when a factor is zero."""
    if p.calls <= 0 or p.tokens <= 0 or p.energy_j <= 0 or p.operational_g <= 0:
        return None
    return {
        "calls": p.calls,
        "tokens_per_call": p.tokens / p.calls,
        "energy_per_token": p.energy_j / p.tokens,
        "carbon_per_joule": p.operational_g / p.energy_j,
    }


def _token_causes(base: _Profile, cand: _Profile, effect: float) -> list[Cause]:
    d_in = cand.input_tokens / cand.calls - base.input_tokens / base.calls
    d_out = cand.output_tokens / cand.calls - base.output_tokens / base.calls
    if effect == 0 or d_in + d_out == 0:
        return []
    causes = []
    for name, delta, before, after in (
        ("tokens_in", d_in, base.input_tokens / base.calls, cand.input_tokens / cand.calls),
        ("tokens_out", d_out, base.output_tokens / base.calls, cand.output_tokens / cand.calls),
    ):
        if delta:
            label = "input" if name == "tokens_in" else "output"
            causes.append(Cause(name, f"{label} tokens {before:.0f} → {after:.0f} per call",
                                effect * delta / (d_in + d_out)))
    return causes


def _energy_causes(base: _Profile, cand: _Profile, effect: float) -> list[Cause]:
    if effect == 0:
        return []
    drivers: list[tuple[str, str]] = []
    if base.models != cand.models:
        drivers.append(("model", f"model {'+'.join(base.models)} → {'+'.join(cand.models)}"))
    share_b = base.cached_tokens / base.input_tokens if base.input_tokens else 0.0
    share_c = cand.cached_tokens / cand.input_tokens if cand.input_tokens else 0.0
    if abs(share_c - share_b) > 1e-6:
        per_call = f"{base.cached_tokens / base.calls:.0f} → {cand.cached_tokens / cand.calls:.0f} per call"
        drivers.append(("cache", f"cached input {share_b:.0%} → {share_c:.0%} of input tokens ({per_call})"))
    if base.boundaries != cand.boundaries:
        drivers.append(("boundary", f"boundary {'+'.join(base.boundaries)} → {'+'.join(cand.boundaries)}"))
    if base.methods != cand.methods:
        drivers.append(("method", f"energy method {'+'.join(base.methods)} → {'+'.join(cand.methods)}"))
    mix_b, mix_c = base.output_tokens / base.tokens, cand.output_tokens / cand.tokens
    if not drivers and abs(mix_c - mix_b) > 1e-6:
        # Output tokens cost more energy than input tokens: a new mix is the token change's doing.
        drivers.append((_tokens_driver(base, cand), f"output share {mix_b:.0%} → {mix_c:.0%} of tokens"))
    if len(drivers) == 1:
        return [Cause(drivers[0][0], drivers[0][1], effect)]
    per_token_b, per_token_c = base.energy_j / base.tokens, cand.energy_j / cand.tokens
    detail = f"energy {per_token_b:.3g} → {per_token_c:.3g} J per token"
    if drivers:
        detail += " (" + "; ".join(d for _, d in drivers) + ")"
    return [Cause("energy_per_token", detail, effect)]


def _tokens_driver(base: _Profile, cand: _Profile) -> str:
    """``tokens_out`` or ``tokens_in``: whichever changed more, relatively, per call."""
    def relative(before: float, after: float) -> float:
        return abs(math.log(after / before)) if before > 0 and after > 0 else math.inf if after != before else 0.0

    d_out = relative(base.output_tokens / base.calls, cand.output_tokens / cand.calls)
    d_in = relative(base.input_tokens / base.calls, cand.input_tokens / cand.calls)
    return "tokens_out" if d_out >= d_in else "tokens_in"


def _merged(causes: list[Cause]) -> list[Cause]:
    """One cause per name: parts of the same name (e.g. tokens per call and token mix) add up."""
    merged: dict[str, Cause] = {}
    for cause in causes:
        if cause.name in merged:
            first = merged[cause.name]
            cause = Cause(cause.name, f"{first.detail}, {cause.detail}", first.delta_g + cause.delta_g)
        merged[cause.name] = cause
    return list(merged.values())


def _intensity_causes(base: _Profile, cand: _Profile, effect: float) -> list[Cause]:
    if effect == 0:
        return []
    grid_b = base.operational_g / base.energy_j * sci.JOULES_PER_KWH
    grid_c = cand.operational_g / cand.energy_j * sci.JOULES_PER_KWH
    if base.zones != cand.zones:
        detail = (f"zone {'+'.join(base.zones)} ({grid_b:.0f} gCO2e/kWh) → "
                  f"{'+'.join(cand.zones)} ({grid_c:.0f} gCO2e/kWh)")
        return [Cause("zone", detail, effect)]
    return [Cause("intensity", f"grid intensity {grid_b:.0f} → {grid_c:.0f} gCO2e/kWh", effect)]


def _log_mean(a: float, b: float) -> float:
    """Logarithmic mean of two positive numbers (``a`` when equal)."""
    if math.isclose(a, b, rel_tol=1e-12):
        return a
    return (a - b) / (math.log(a) - math.log(b))


def _ranked(causes: list[Cause]) -> tuple[Cause, ...]:
    return tuple(sorted((c for c in causes if c.delta_g != 0), key=lambda c: -c.delta_g))


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
