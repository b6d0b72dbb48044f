"""The HTML report's charts, drawn by matplotlib (the ``report`` extra) as inline SVG: no server, no
script, sharp when printed."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from otel_carbon._extras import missing_extra

try:
    import matplotlib
    from matplotlib.figure import Figure
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by .ci/wheel_smoke
    raise missing_extra("report", exc, "otel-carbon report --format html") from exc

_OPERATIONAL, _EMBODIED, _MARKET = "#2a9d8f", "#e9c46a", "#264653"
_MAX_GROUPS = 15


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "otel-carbon"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML prolog and doctype


def _figure(height: float = 3.2) -> tuple[Figure, Any]:
    figure = Figure(figsize=(8.0, height), dpi=96)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def by_group(labels: Sequence[str], operational: Sequence[float], embodied: Sequence[float]) -> str:
    """Horizontal stacked bars, g CO2e per group (largest first, at most 15)."""
    labels, operational, embodied = list(labels[:_MAX_GROUPS]), operational[:_MAX_GROUPS], embodied[:_MAX_GROUPS]
    figure, axes = _figure(max(2.0, 0.35 * len(labels) + 1.0))
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, operational, color=_OPERATIONAL, label="operational")
    axes.barh(positions, embodied, left=operational, color=_EMBODIED, label="embodied")
    axes.set_yticks(positions, labels)
    axes.set_xlabel("g CO2e")
    axes.legend(frameon=False, loc="lower right")
    return _svg(figure)


def over_time(days: Sequence[str], operational: Sequence[float], embodied: Sequence[float]) -> str:
    """Daily stacked bars, g CO2e."""
    figure, axes = _figure()
    positions = list(range(len(days)))
    axes.bar(positions, operational, color=_OPERATIONAL, label="operational")
    axes.bar(positions, embodied, bottom=operational, color=_EMBODIED, label="embodied")
    step = max(1, len(days) // 10)
    axes.set_xticks(positions[::step], [d[5:] for d in days[::step]])
    axes.set_ylabel("g CO2e per day")
    axes.legend(frameon=False, ncol=2, loc="lower right", bbox_to_anchor=(1.0, 1.0))
    return _svg(figure)


def scope_split(scope2_location: float, scope2_market: float, scope3: float, embodied: float) -> str:
    """Bars of the scope figures, g CO2e."""
    figure, axes = _figure(2.6)
    names = ["Scope 2\nlocation-based", "Scope 2\nmarket-based", "Scope 3 cat. 1\n(operational)", "Embodied\n(apart)"]
    values = [scope2_location, scope2_market, scope3, embodied]
    bars = axes.bar(names, values, color=[_OPERATIONAL, _MARKET, "#f4a261", _EMBODIED])
    axes.bar_label(bars, labels=[f"{v:.4g}" for v in values], padding=2)
    axes.set_ylabel("g CO2e")
    return _svg(figure)
