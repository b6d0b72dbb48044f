"""The HTML report: one self-contained file (inline SVG charts and CSS, no script, no request), printable.

Sections: headline figures and the change against the previous period, the scope split, charts
(by group, over time, scopes), the table by group, data quality, what is missing, and the
methodology page (printed on its own page).
"""

from __future__ import annotations

from html import escape
from typing import Any

from otel_carbon.report import charts
from otel_carbon.report.build import J_PER_WH, Report
from otel_carbon.report.formats import number, percent, share

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;
margin-top:2rem}
.sub{color:#555;margin-top:0}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:.6rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.5rem .7rem}
.card b{display:block;font-size:1.25rem}.card span{color:#555;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.82rem}
th,td{border-bottom:1px solid #e3e3e3;padding:.25rem .4rem;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f5f5f5}
.chart svg{width:100%;height:auto}
.note{color:#555;font-size:.88rem}
.methodology{page-break-before:always;break-before:page}
@media print{body{margin:0;max-width:none}.chart{break-inside:avoid}h2{break-after:avoid}}
"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def to_html(report: Report) -> str:
    t, s, q, m = report.totals, report.scopes, report.quality, report.missing
    change = report.change_percent
    parts: list[str] = [
        f"<h1>Carbon report {escape(report.period.label)}</h1>",
        f'<p class="sub">Ledger {escape(report.ledger)} · calls that ended {escape(report.period.start.date().isoformat())}'
        f" to {escape(report.period.end.date().isoformat())} (excluded), UTC · compared with "
        f"{escape(report.previous_period.label)}</p>",
        '<div class="cards">',
        _card(f"{number(t['carbon_g'])} g", f"CO2e ({number(t['carbon_low_g'])}–{number(t['carbon_high_g'])}); "
              f"{percent(change['carbon_g'])}"),
        _card(f"{number(t['energy_j'] / J_PER_WH)} Wh", f"energy; {percent(change['energy_j'])}"),
        _card(number(t["calls"]), f"calls; {percent(change['calls'])}"),
        _card(f"{number(t['cost_usd'])} USD", f"cost; {percent(change['cost_usd'])}"),
        _card(f"{number(t['sci_per_request_g'])} g", "SCI per request"),
        _card(f"{number(t['sci_per_1k_tokens_g'])} g", "SCI per 1k tokens"),
        _card(number(t["tokens_per_wh"]), "tokens per Wh"),
        _card(share(q["measured_share_calls"]), "of calls measured"),
        "</div>",
        "<h2>Scopes</h2>",
        _table(["", "calls", "energy Wh", "operational g CO2e", "embodied g CO2e (apart)"], [
            ["Scope 2 — location-based", number(s["scope2"]["calls"]), number(s["scope2"]["energy_j"] / J_PER_WH),
             number(s["scope2"]["location_based_g"]), number(s["scope2"]["embodied_g"])],
            ["Scope 2 — market-based", "", "", number(s["scope2"]["market_based_g"]), ""],
            ["Scope 3 category 1", number(s["scope3_cat1"]["calls"]), number(s["scope3_cat1"]["energy_j"] / J_PER_WH),
             number(s["scope3_cat1"]["operational_g"]), number(s["scope3_cat1"]["embodied_g"])],
        ]),
        f'<p class="note">Market-based factors cover {share(s["scope2"]["market_factor_coverage"])} of Scope 2 '
        "energy; see the methodology.</p>",
        '<div class="chart">' + charts.scope_split(s["scope2"]["location_based_g"], s["scope2"]["market_based_g"],
                                                     s["scope3_cat1"]["operational_g"], s["embodied_g"]) + "</div>",
    ]
    if report.over_time:
        parts += ["<h2>Over time</h2>", '<div class="chart">' + charts.over_time(
            [d["day"] for d in report.over_time], [d["carbon_g"] - d["embodied_g"] for d in report.over_time],
            [d["embodied_g"] for d in report.over_time]) + "</div>"]
    if report.by:
        labels = [" / ".join(str(r.get(k)) for k in report.by) for r in report.rows]
        parts += [f"<h2>By {escape(', '.join(report.by))}</h2>"]
        if report.rows:
            parts.append('<div class="chart">' + charts.by_group(
                labels, [r["operational_g"] for r in report.rows], [r["embodied_g"] for r in report.rows]) + "</div>")
        parts.append(_table(
            [*report.by, "calls", "tokens", "energy Wh", "operational g", "embodied g", "carbon g", "cost USD",
             "g/request", "tokens/Wh", "measured"],
            [[str(r.get(k)) for k in report.by] + [
                number(r["calls"]), number(r["input_tokens"] + r["output_tokens"]), number(r["energy_j"] / J_PER_WH),
                number(r["operational_g"]), number(r["embodied_g"]), number(r["carbon_g"]), number(r["cost_usd"]),
                number(r["sci_per_request_g"]), number(r["tokens_per_wh"]), share(r["measured_share"])]
             for r in report.rows]))
    parts += [
        "<h2>Energy by layer</h2>",
        _table(["layer", "Wh"], [[name, number(t[key] / J_PER_WH)] for name, key in (
            ("accelerator", "energy_accelerator_j"), ("host (CPU, DRAM)", "energy_host_j"),
            ("idle fleet share", "energy_idle_j"), ("data-centre overhead (PUE)", "energy_overhead_j"),
            ("total", "energy_j"))]),
        "<h2>Data quality</h2>",
        _table(["indicator", "value"], [
            ["calls measured / estimated", f"{share(q['measured_share_calls'])} / {number(q['estimated_calls'])} calls"],
            ["carbon from measured calls", share(q["measured_share_carbon"])],
            ["calls on fallback (static) intensity", share(q["fallback_intensity_share_calls"])],
            ["model match of estimates", ", ".join(f"{k}: {v}" for k, v in q["model_match_of_estimates"].items())
             or "n/a"],
            ["calls dropped by the writer", number(m["dropped_calls"])],
            ["calls without a known price", number(q["cost_unknown_calls"])],
        ]),
        '<section class="methodology"><h2>Methodology</h2>',
        *_methodology(report.methodology.get("sections", [])),
        "</section>",
    ]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Carbon report '
            f"{escape(report.period.label)}</title><style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def _methodology(sections: list[dict[str, Any]]) -> list[str]:
    out = []
    for section in sections:
        out.append(f"<h3>{escape(section['title'])}</h3>")
        out += [f"<p>{escape(p)}</p>" for p in section["paragraphs"]]
    return out
