"""The value every intensity source produces and every lookup returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class IntensityReading:
    """Location-based grid carbon intensity of one zone.

    ``g_per_kwh`` is gCO2e/kWh; ``observed_at`` is the UTC instant the value
    describes (``None`` for annual averages); ``fallback`` is true when the
    value is not what the configured source would give now (a stale reading, or
    the static average standing in for a live provider or an unknown zone).
    """

    zone: str
    g_per_kwh: float
    source: str
    observed_at: datetime | None = None
    fallback: bool = False


class IntensityLookup(Protocol):
    """What enrichment calls on the hot path: returns at once and never raises."""

    def lookup(self, zone: str) -> IntensityReading: ...


@dataclass(frozen=True)
class ForecastPoint:
    """Expected intensity (gCO2e/kWh) over ``[start, end)``, both UTC."""

    start: datetime
    end: datetime
    g_per_kwh: float


@dataclass(frozen=True)
class Forecast:
    """A provider's forecast for one zone: points in time order, without gaps checked."""

    zone: str
    source: str
    points: tuple[ForecastPoint, ...]
    generated_at: datetime | None = None


@dataclass(frozen=True)
class IntensityIndex:
    """A relative signal that is *not* gCO2e/kWh (e.g. WattTime's 0–100 MOER percentile).

    Kept apart from readings so it is never mixed into carbon arithmetic.
    """

    zone: str
    value: float
    unit: str
    source: str
    observed_at: datetime | None = None
