"""Plain report formats: ``table`` (terminal), ``csv`` (one row per group) and ``json`` (the whole report).

CSV columns: ``period``, then the ``--by`` keys, then :data:`~otel_carbon.report.build.COLUMNS`
(units in the names: ``_j`` joules, ``_g`` grams CO2e, ``_usd``, ``_share`` 0..1).  Without ``--by``,
one row: the period's total.  Empty cells are ratios with a zero denominator.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from otel_carbon.report.build import COLUMNS, J_PER_WH, Report


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, allow_nan=False) + "\n"


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", *report.by, *COLUMNS])
    rows = report.rows if report.by else [report.totals]
    for row in rows:
        writer.writerow([report.period.label, *(_cell(row.get(k)) for k in report.by),
                         *(_cell(row[c]) for c in COLUMNS)])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def number(value: Any, digits: int = 4) -> str:
    """A figure for people: ``n/a`` for None, thousands separators for counts, significant digits otherwise."""
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def to_table(report: Report) -> str:
    t, s, q = report.totals, report.scopes, report.quality
    lines = [
        f"otel-carbon report {report.period.label}  ({report.ledger})",
        "",
        f"calls {number(t['calls'])}   tokens in/out {number(t['input_tokens'])}/{number(t['output_tokens'])}   "
        f"energy {number(t['energy_j'] / J_PER_WH)} Wh   carbon {number(t['carbon_g'])} g "
        f"[{number(t['carbon_low_g'])}–{number(t['carbon_high_g'])}]   cost {number(t['cost_usd'])} USD",
        f"SCI {number(t['sci_per_request_g'])} g/request, {number(t['sci_per_1k_tokens_g'])} g/1k tokens; "
        f"{number(t['tokens_per_wh'])} tokens/Wh",
        f"vs {report.previous_period.label}: calls {percent(report.change_percent['calls'])}, carbon "
        f"{percent(report.change_percent['carbon_g'])}, energy {percent(report.change_percent['energy_j'])}, cost "
        f"{percent(report.change_percent['cost_usd'])}",
        "",
        f"Scope 2 (local): location-based {number(s['scope2']['location_based_g'])} g, market-based "
        f"{number(s['scope2']['market_based_g'])} g ({s['scope2']['calls']:,} calls)",
        f"Scope 3 cat. 1 (hosted, cloud): {number(s['scope3_cat1']['operational_g'])} g operational "
        f"({s['scope3_cat1']['calls']:,} calls)",
        f"Embodied (shown apart): {number(s['embodied_g'])} g",
        f"Data quality: measured {share(q['measured_share_calls'])} of calls, fallback intensity "
        f"{share(q['fallback_intensity_share_calls'])}; dropped calls {report.missing['dropped_calls']:,}",
    ]
    if report.by:
        header = [*report.by, "calls", "energy Wh", "operational g", "embodied g", "carbon g", "cost USD",
                  "g/request"]
        body = [[str(r.get(k)) for k in report.by] + [
            number(r["calls"]), number(r["energy_j"] / J_PER_WH), number(r["operational_g"]), number(r["embodied_g"]),
            number(r["carbon_g"]), number(r["cost_usd"]), number(r["sci_per_request_g"])] for r in report.rows]
        widths = [max(len(x) for x in col) for col in zip(header, *body)]
        lines += ["", "  ".join(h.ljust(w) for h, w in zip(header, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(lines) + "\n"


def share(value: float | None) -> str:
    """A 0..1 share for people: ``12.5 %``, ``n/a`` for None."""
    return "n/a" if value is None else f"{100 * value:.1f} %"
