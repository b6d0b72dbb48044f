"""best_window: the lowest-carbon start for deferrable work, from a forecast."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from otel_carbon.intensity.reading import Forecast, ForecastPoint
from otel_carbon.intensity.window import best_window

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
FIVE = timedelta(minutes=5)


def _forecast(values: tuple[float, ...], step: timedelta = FIVE, start: datetime = T0) -> Forecast:
    return Forecast(
        "IE", "test", tuple(ForecastPoint(start + i * step, start + (i + 1) * step, v) for i, v in enumerate(values))
    )


def test_the_carbon_aware_sdk_documented_example() -> None:
    # Points 12, 11, 10, 12, 13 (5 min) and a 10-minute job: rolling means 11.5, 10.5, 11, 12.5.
    window = best_window(_forecast((12, 11, 10, 12, 13)), 2 * FIVE, T0 + 5 * FIVE, T0)
    assert window is not None
    assert (window.start, window.end, window.g_per_kwh) == (T0 + FIVE, T0 + 3 * FIVE, 10.5)
    assert window.immediate_g_per_kwh == 11.5


def test_ties_go_to_the_earliest_start() -> None:
    window = best_window(_forecast((20, 10, 30, 10)), FIVE, T0 + 4 * FIVE, T0)
    assert window is not None and window.start == T0 + FIVE


def test_the_deadline_bounds_the_end_of_the_work() -> None:
    values = (50, 40, 30, 20, 10)
    window = best_window(_forecast(values), 2 * FIVE, T0 + 4 * FIVE, T0)  # the 10 at the end is out of reach
    assert window is not None and (window.start, window.g_per_kwh) == (T0 + 2 * FIVE, 25.0)
    assert best_window(_forecast(values), 2 * FIVE, T0 + FIVE, T0) is None  # not even one window fits


def test_now_inside_a_point_is_weighted_by_overlap() -> None:
    now = T0 + timedelta(minutes=2)
    # Hourly points 100, 400: a 1-hour job now spends 58 min at 100 and 2 min at 400.
    window = best_window(
        _forecast((100, 400), step=timedelta(hours=1)), timedelta(hours=1), T0 + timedelta(hours=2), now
    )
    assert window is not None and window.start == now
    assert window.g_per_kwh == pytest.approx((58 * 100 + 2 * 400) / 60)


def test_gaps_in_the_forecast_are_not_filled_in() -> None:
    points = (
        ForecastPoint(T0, T0 + FIVE, 100.0),
        ForecastPoint(T0 + 2 * FIVE, T0 + 3 * FIVE, 10.0),  # T0+5..T0+10 missing
    )
    window = best_window(Forecast("IE", "test", points), 2 * FIVE, T0 + 3 * FIVE, T0)
    assert window is None  # every 10-minute window would straddle the gap


def test_past_points_and_bad_durations_are_ignored() -> None:
    forecast = _forecast((1, 500, 400))
    window = best_window(forecast, FIVE, T0 + 3 * FIVE, T0 + FIVE)  # the 1 is already over
    assert window is not None and window.g_per_kwh == 400
    assert best_window(forecast, timedelta(0), T0 + 3 * FIVE, T0) is None
