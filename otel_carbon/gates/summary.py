"""The text summary ``pytest --carbon`` prints: totals, the top tests by carbon, and each model's share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from otel_carbon import sci
from otel_carbon.gates.records import CallRecord, TestRecord

_J_PER_WH = sci.JOULES_PER_KWH / 1000.0


@dataclass
class _Totals:
    calls: int = 0
    tokens: int = 0
    energy_j: float = 0.0
    carbon_g: float = 0.0
    cost_usd: float = 0.0
    priced: int = 0  # calls with a known cost

    def add(self, call: CallRecord) -> None:
        self.calls += 1
        self.tokens += call.tokens
        self.energy_j += call.energy_j
        self.carbon_g += call.carbon_g
        if call.cost_usd is not None:
            self.cost_usd += call.cost_usd
            self.priced += 1

    def line(self, label: str, width: int) -> str:
        cost = f"{self.cost_usd:.6f}" if self.priced else "n/a"
        per_wh = f"{self.tokens / (self.energy_j / _J_PER_WH):,.0f}" if self.energy_j > 0 else "n/a"
        return (f"{label:<{width}} {self.calls:>6} {self.tokens:>9} {self.energy_j / _J_PER_WH:>11.4f} "
                f"{self.carbon_g:>11.5f} {cost:>11} {per_wh:>11}")


def render_summary(tests: Sequence[TestRecord], top: int = 10) -> str:
    """Totals, the ``top`` tests by carbon, and per-model lines (Wh, g CO2e, USD, tokens per Wh)."""
    calls = [call for test in tests for call in test.calls]
    if not calls:
        return "otel-carbon: no counted GenAI calls in this run"
    width = max([len("total"), *(len(t.nodeid) for t in tests[:top]), *(len(c.model) for c in calls)])
    width = min(width, 60)
    header = (f"{'':<{width}} {'calls':>6} {'tokens':>9} {'energy Wh':>11} {'g CO2e':>11} {'cost USD':>11} "
              f"{'tokens/Wh':>11}")
    total = _Totals()
    for call in calls:
        total.add(call)
    per_model: dict[str, _Totals] = defaultdict(_Totals)
    for call in calls:
        per_model[f"{call.model} @ {call.zone}"].add(call)
    lines = [f"otel-carbon: {total.calls} GenAI calls in {sum(1 for t in tests if t.calls)} tests", header]
    lines.append(total.line("total", width))
    lines.append("top tests by carbon:")
    ranked = sorted((t for t in tests if t.calls), key=lambda t: -t.carbon_g)[:top]
    for test in ranked:
        line = _Totals()
        for call in test.calls:
            line.add(call)
        lines.append(line.line(_fit(test.nodeid, width), width))
    lines.append("per model @ zone:")
    for label, line in sorted(per_model.items(), key=lambda kv: -kv[1].carbon_g):
        lines.append(line.line(_fit(label, width), width))
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]
