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
