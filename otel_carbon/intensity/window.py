"""Temporal shifting: the lowest-carbon start for deferrable work, from a forecast.

A forecast point holds its intensity over ``[start, end)``.  A candidate window
``[s, s + duration)`` is scored by the duration-weighted mean intensity of the
points it overlaps (the rolling average the GSF Carbon Aware SDK uses); it
must lie inside ``[now, deadline]`` and be fully covered by forecast points.
Candidates start now and at every point start after now; the lowest mean
wins, ties going to the earliest start (no reason to wait for an equal grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityReading

_EPSILON_S = 1e-6


@dataclass(frozen=True)
class CleanWindow:
    """When to run: ``[start, end)`` at an expected mean ``g_per_kwh`` (gCO2e/kWh).

    ``immediate_g_per_kwh`` is the expected mean when starting now (``None``
    when the forecast does not cover now), so the saving is visible;
    ``fallback`` is true when no forecast was usable and the answer is simply
    "now, at the current intensity".
    """

    start: datetime
    end: datetime
    g_per_kwh: float
    zone: str
    source: str
    fallback: bool = False
    immediate_g_per_kwh: float | None = None

    @classmethod
    def starting_now(cls, reading: IntensityReading, now: datetime, duration: timedelta) -> CleanWindow:
        """The answer without a usable forecast: start ``now`` at ``reading``'s intensity, flagged ``fallback``."""
        return cls(
            start=now,
            end=now + duration,
            g_per_kwh=reading.g_per_kwh,
            zone=reading.zone,
            source=reading.source,
            fallback=True,
            immediate_g_per_kwh=reading.g_per_kwh,
        )


def best_window(forecast: Forecast, duration: timedelta, deadline: datetime, now: datetime) -> CleanWindow | None:
    """The best window in ``forecast``, or ``None`` when no candidate fits before ``deadline``."""
    if duration <= timedelta(0) or deadline - now < duration:
        return None
    points = [p for p in forecast.points if p.end > now and p.start < deadline]
    starts = [now] + [p.start for p in points if p.start > now]
    best: tuple[float, datetime] | None = None
    immediate: float | None = None
    for start in starts:
        end = start + duration
        if end > deadline:
            break
        mean = _mean_over(points, start, end)
        if mean is None:
            continue
        if start == now:
            immediate = mean
        if best is None or mean < best[0]:
            best = (mean, start)
    if best is None:
        return None
    return CleanWindow(
        start=best[1],
        end=best[1] + duration,
        g_per_kwh=best[0],
        zone=forecast.zone,
        source=forecast.source,
        immediate_g_per_kwh=immediate,
    )


def _mean_over(points: list[ForecastPoint], start: datetime, end: datetime) -> float | None:
    """Duration-weighted mean over ``[start, end)``; ``None`` if the points leave a gap."""
    covered = 0.0
    weighted = 0.0
    for point in points:
        overlap = (min(point.end, end) - max(point.start, start)).total_seconds()
        if overlap > 0:
            covered += overlap
            weighted += overlap * point.g_per_kwh
    total = (end - start).total_seconds()
    if covered < total - _EPSILON_S:
        return None
    return weighted / covered
