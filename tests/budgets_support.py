"""Test support for the budget rules: promtool series values (shared by the promtool tests and ``bench/budgets.py``)."""

from __future__ import annotations


def counter(increments: list[float]) -> str:
    """promtool ``values`` of a counter from its hourly increments (starting at 0)."""
    total, values = 0.0, ["0"]
    for step in increments:
        total += step
        values.append(repr(round(total, 6)))
    return " ".join(values)
