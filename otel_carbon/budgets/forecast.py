"""Spend at the end of a period, from the spend so far and the last two weeks' burn rates.

The method the Prometheus rules implement in PromQL (``otel_carbon.budgets.rules``):
``forecast = spent + R · max(0, r̄ + s · (3.5 d + R/2))`` with ``r̄`` the mean rate of the last 7 days
(units/s), ``s`` the trend of that weekly mean (units/s²) and ``R`` the seconds left.  A 7-day mean
holds one whole weekly cycle, so weekday peaks and quiet weekends neither inflate nor deflate it;
its trend carries growth forward; ``r̄`` is the rate 3.5 days ago, so the rate expected over the rest
of the period is its value at the middle of the time left.  The rules fit ``s`` by least squares
over 14 days (``deriv``); this module takes it from two consecutive weeks' means (the same slope for a
linear trend).
"""

from __future__ import annotations

WEEK_S = 7 * 86400


def forecast_at_end(spent: float, week: float, previous_week: float | None, remaining_s: float) -> float:
    """Forecast spend at period end (base unit) from ``spent`` so far, the last 7 days' spend ``week``,
    the 7 days before it ``previous_week`` (None: no history, no trend) and ``remaining_s`` seconds left."""
    remaining = max(0.0, remaining_s)
    rate = week / WEEK_S
    trend = 0.0 if previous_week is None else (week - previous_week) / WEEK_S / WEEK_S
    return spent + remaining * max(0.0, rate + trend * (WEEK_S / 2 + remaining / 2))
