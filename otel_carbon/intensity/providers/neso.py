"""UK NESO Carbon Intensity API (``api.carbonintensity.org.uk``): Great Britain, no key, CC BY 4.0.

National zone ``GB``: ``/intensity`` (current half hour; ``actual`` when
published, else ``forecast``) and ``/intensity/{from}/fw48h``.  Regional
zones ``GB-NESO-<id>`` (ids 1–17, e.g. 13 = London; the static table resolves
them to ``GB``): ``/regional/regionid/{id}`` and
``/regional/intensity/{from}/fw48h/regionid/{id}`` — regional values are
forecasts only.  Items look like ``{"from": "2018-01-20T12:00Z", "to": …,
"intensity": {"forecast": 266, "actual": 263, "index": "moderate"}}``, in
gCO2/kWh (direct emissions of GB generation).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.providers.base import (
    MAX_FORECAST_POINTS,
    Fetched,
    Location,
    as_dict,
    as_list,
    intensity_value,
    optional_forecast,
    parse_time,
    payload_error,
)
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityReading

DEFAULT_BASE_URL = "https://api.carbonintensity.org.uk"
NATIONAL_ZONE = "GB"
_REGIONAL = re.compile(r"^GB-NESO-(\d{1,2})$")


class Neso:
    """Client for the GB Carbon Intensity API (national and regional)."""

    name = "neso"
    granularity_s = 1800.0  # half-hourly settlement periods
    budget_per_hour = 120  # no published limit; be polite

    def __init__(
        self, http: HttpClient, *, base_url: str = DEFAULT_BASE_URL, clock: Callable[[], float] = time.time
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._clock = clock
        self.source = self.name

    def __repr__(self) -> str:
        return f"Neso(base={self._base!r})"

    def serves(self, location: Location) -> bool:
        return self._region_id(location.zone) is not None or location.zone.upper() == NATIONAL_ZONE

    def fetch(self, location: Location, *, forecast: bool) -> Fetched:
        region = self._region_id(location.zone)
        now = datetime.fromtimestamp(self._clock(), timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
        if region is None:
            response = self._http.get_json(f"{self._base}/intensity")
            current = _first(as_list(as_dict(response.data, "intensity").get("data"), "intensity.data"))
            horizon = f"{self._base}/intensity/{now}/fw48h"
        else:
            response = self._http.get_json(f"{self._base}/regional/regionid/{region}")
            current = _first(_regional_items(response.data))
            horizon = f"{self._base}/regional/intensity/{now}/fw48h/regionid/{region}"
        intensity = as_dict(current.get("intensity"), "intensity")
        actual = intensity.get("actual")
        value = intensity_value(actual if actual is not None else intensity.get("forecast"), "intensity")
        reading = IntensityReading(
            location.zone, value, self.source, observed_at=parse_time(current.get("from"), "from")
        )
        points, error = (
            optional_forecast(lambda: self._forecast(location.zone, horizon, regional=region is not None))
            if forecast
            else (None, None)
        )
        return Fetched(reading=reading, forecast=points, server_time=response.server_time, forecast_error=error)

    def _forecast(self, zone: str, url: str, *, regional: bool) -> Forecast:
        data = self._http.get_json(url).data
        items = _regional_items(data) if regional else as_list(as_dict(data, "fw48h").get("data"), "fw48h.data")
        return Forecast(zone, self.source, _points(items))

    @staticmethod
    def _region_id(zone: str) -> int | None:
        match = _REGIONAL.match(zone.upper())
        if match and 1 <= int(match.group(1)) <= 17:
            return int(match.group(1))
        return None


def _first(items: list[Any]) -> dict[str, Any]:
    if not items:
        raise payload_error("intensity: no data")
    return as_dict(items[0], "intensity item")


def _regional_items(data: Any) -> list[Any]:
    """Regional answers wrap the half-hours in ``data: [{regionid, …, data: [...]}]`` or ``data: {…}``."""
    outer = as_dict(data, "regional").get("data")
    region = as_dict(outer[0] if isinstance(outer, list) and outer else outer, "regional.data")
    return as_list(region.get("data"), "regional.data.data")


def _points(items: list[Any]) -> tuple[ForecastPoint, ...]:
    points = []
    for item in items[:MAX_FORECAST_POINTS]:
        item = as_dict(item, "forecast item")
        value = as_dict(item.get("intensity"), "intensity").get("forecast")
        points.append(
            ForecastPoint(
                parse_time(item.get("from"), "from"),
                parse_time(item.get("to"), "to"),
                intensity_value(value, "forecast"),
            )
        )
    return tuple(sorted(points, key=lambda p: p.start))
