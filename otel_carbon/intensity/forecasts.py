"""Forecasts and relative indices per zone, as the providers last sent them (for ``best_window``).

Thread-safe; bounded to ``max_zones`` zones each.  Neither is ever part of a reading.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from otel_carbon.intensity.reading import Forecast, IntensityIndex


class ForecastStore:
    """Zone → source → (received at, :class:`Forecast`), and zone → :class:`IntensityIndex`.

    ``rank(source)`` orders providers (lower first) when several have a forecast for a zone.
    """

    def __init__(self, *, max_zones: int, rank: Callable[[str], int]) -> None:
        self._max_zones = max_zones
        self._rank = rank
        self._lock = threading.Lock()
        self._forecasts: dict[str, dict[str, tuple[float, Forecast]]] = {}
        self._indices: dict[str, IntensityIndex] = {}

    def add_forecast(self, forecast: Forecast, received_at: float) -> None:
        """Keep ``forecast`` (zone upper-cased); a new zone beyond the cap is ignored."""
        zone = forecast.zone.upper()
        with self._lock:
            if zone not in self._forecasts and len(self._forecasts) >= self._max_zones:
                return
            self._forecasts.setdefault(zone, {})[forecast.source] = (received_at, replace(forecast, zone=zone))

    def add_index(self, index: IntensityIndex) -> None:
        """Keep ``index`` (zone upper-cased); a new zone beyond the cap is ignored."""
        zone = index.zone.upper()
        with self._lock:
            if zone in self._indices or len(self._indices) < self._max_zones:
                self._indices[zone] = replace(index, zone=zone)

    def forecast(self, zone: str) -> Forecast | None:
        """The forecast of the best-ranked provider that has one for ``zone`` (newest on a tie)."""
        with self._lock:
            by_source = list(self._forecasts.get(zone.strip().upper(), {}).values())
        if not by_source:
            return None
        return min(by_source, key=lambda item: (self._rank(item[1].source), -item[0]))[1]

    def index(self, zone: str) -> IntensityIndex | None:
        return self._indices.get(zone.strip().upper())

    def forecasts(self) -> list[tuple[float, Forecast]]:
        """Every kept ``(received at, forecast)`` (for the cache file)."""
        with self._lock:
            return [item for by_source in self._forecasts.values() for item in by_source.values()]
