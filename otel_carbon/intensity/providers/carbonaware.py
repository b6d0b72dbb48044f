"""Green Software Foundation Carbon Aware SDK WebAPI (self-hosted; MIT).

The WebAPI fronts WattTime or Electricity Maps with the operator's own keys, so
this client sends none.  Locations are the WebAPI's names (by default Azure
regions such as ``eastus``); a zone maps to one through ``locations``
(zone → name), else the shipped table's Azure region in that zone.

``GET /emissions/bylocation?location=&time=&toTime=`` → ``[{location, time,
rating}]`` (rating in g/kWh); ``GET /emissions/forecasts/current?location=`` →
``[{location, generatedAt, forecastData: [{timestamp, duration (min), value}],
optimalDataPoints: [...]}]`` (``casdk-docs/docs/tutorial-basics/carbon-aware-webapi.md``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
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
from otel_carbon.intensity.zones import regions_in_zone

_LOOKBACK = timedelta(hours=2)


class CarbonAwareSdk:
    """Client for a Carbon Aware SDK WebAPI at ``base_url``."""

    name = "carbonaware"
    granularity_s = 900.0  # its sources publish 5-minute to hourly data
    budget_per_hour = 240

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        *,
        locations: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._locations = {zone.upper(): name for zone, name in (locations or {}).items()}
        self._clock = clock
        self.source = self.name

    def __repr__(self) -> str:
        return f"CarbonAwareSdk(base={self._base!r})"

    def location_for(self, location: Location) -> str | None:
        if location.zone.upper() in self._locations:
            return self._locations[location.zone.upper()]
        if location.cloud is not None and location.cloud[0] == "azure":
            return location.cloud[1]
        azure = regions_in_zone(location.zone, "azure")
        return azure[0].region if azure else None

    def serves(self, location: Location) -> bool:
        return self.location_for(location) is not None

    def fetch(self, location: Location, *, forecast: bool) -> Fetched:
        name = self.location_for(location)
        if name is None:
            raise payload_error(f"no Carbon Aware SDK location for zone {location.zone!r}")
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        response = self._http.get_json(
            f"{self._base}/emissions/bylocation",
            params={"location": name, "time": _iso(now - _LOOKBACK), "toTime": _iso(now)},
        )
        rows = [as_dict(row, "emissions item") for row in as_list(response.data, "emissions")]
        if not rows:
            raise payload_error("emissions/bylocation: no data in the last 2 hours")
        latest_time, latest_value = max(
            (parse_time(row.get("time"), "time"), intensity_value(row.get("rating"), "rating")) for row in rows
        )
        reading = IntensityReading(location.zone, latest_value, self.source, observed_at=latest_time)
        points, error = optional_forecast(lambda: self._forecast(location, name)) if forecast else (None, None)
        return Fetched(reading=reading, forecast=points, server_time=response.server_time, forecast_error=error)

    def _forecast(self, location: Location, name: str) -> Forecast:
        data = self._http.get_json(f"{self._base}/emissions/forecasts/current", params={"location": name}).data
        forecasts = as_list(data, "forecasts")
        if not forecasts:
            return Forecast(location.zone, self.source, ())
        body = as_dict(forecasts[0], "forecast")
        points = []
        for item in as_list(body.get("forecastData", []), "forecastData")[:MAX_FORECAST_POINTS]:
            item = as_dict(item, "forecast point")
            start = parse_time(item.get("timestamp"), "timestamp")
            minutes = _minutes(item.get("duration"))
            points.append(
                ForecastPoint(start, start + timedelta(minutes=minutes), intensity_value(item.get("value"), "value"))
            )
        generated = body.get("generatedAt")
        return Forecast(
            location.zone,
            self.source,
            tuple(sorted(points, key=lambda p: p.start)),
            generated_at=parse_time(generated, "generatedAt") if generated else None,
        )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= 24 * 60:
        raise payload_error(f"forecast point duration {raw!r} is not a number of minutes")
    return float(raw)
