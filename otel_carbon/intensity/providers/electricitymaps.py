"""Electricity Maps API (v3 and v4): latest, history and forecast carbon intensity.

Auth is the ``auth-token`` header.  A location is asked for by ``zone`` or by
``dataCenterProvider`` + ``dataCenterRegion`` (e.g. ``gcp`` / ``europe-west1``),
and the API's fallback to the *caller's IP location* is always switched off:
a request that names no zone is never sent.  Emission factors are
``lifecycle`` by default (the API's default, LCA incl. upstream) or ``direct``
on request; the factor type is part of the source label
(``electricitymaps.lifecycle``) so the two are never mixed silently.

Response shapes (developer hub reference, stored copies checked 2026-11):
``latest`` → ``{zone, carbonIntensity, datetime, updatedAt, emissionFactorType,
isEstimated, estimationMethod, temporalGranularity}``; ``history`` →
``{zone, history: [...]}`` (``data`` in some v4 responses); ``forecast`` →
``{zone, forecast: [{carbonIntensity, datetime}], updatedAt}``.
Intensities are gCO2eq/kWh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from otel_carbon.intensity.http import HttpClient, JsonResponse
from otel_carbon.intensity.providers.base import (
    MAX_FORECAST_POINTS,
    Fetched,
    Location,
    Secret,
    as_dict,
    as_list,
    intensity_value,
    optional_forecast,
    parse_time,
    payload_error,
)
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityReading

DEFAULT_BASE_URL = "https://api.electricitymaps.com"
VERSIONS = ("v3", "v4")
EMISSION_FACTORS = ("lifecycle", "direct")
_GRANULARITY_S = {"5_minutes": 300.0, "15_minutes": 900.0, "hourly": 3600.0}
_ACCEPTED_UNITS = {"gco2eq/kwh", "gco2e/kwh", "g/kwh"}


class ElectricityMaps:
    """Client for ``{base_url}/{version}/carbon-intensity/{latest,history,forecast}``."""

    name = "electricitymaps"
    granularity_s = 3600.0  # hourly is the API default temporalGranularity
    budget_per_hour = 60

    def __init__(
        self,
        http: HttpClient,
        api_key: Secret,
        *,
        base_url: str = DEFAULT_BASE_URL,
        version: str = "v4",
        emission_factor: str = "lifecycle",
        horizon_hours: int = 24,
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"Electricity Maps API version must be one of {', '.join(VERSIONS)}")
        if emission_factor not in EMISSION_FACTORS:
            raise ValueError(f"emission factor type must be one of {', '.join(EMISSION_FACTORS)}")
        self._http = http
        self._key = api_key
        self._root = f"{base_url.rstrip('/')}/{version}/carbon-intensity"
        self._factor = emission_factor
        self._horizon_hours = horizon_hours
        self.source = f"{self.name}.{emission_factor}"

    def __repr__(self) -> str:
        return f"ElectricityMaps(root={self._root!r}, emission_factor={self._factor!r})"

    def serves(self, location: Location) -> bool:
        zone = location.zone.upper()
        return location.cloud is not None or (zone != "WORLD" and not zone.startswith("GB-NESO-"))

    def fetch(self, location: Location, *, forecast: bool) -> Fetched:
        reading, server_time = self.latest(location)
        # Forecasts need a paid plan: a refusal must not cost the latest value.
        points, error = optional_forecast(lambda: self.forecast(location)) if forecast else (None, None)
        return Fetched(reading=reading, forecast=points, server_time=server_time, forecast_error=error)

    def latest(self, location: Location) -> tuple[IntensityReading, datetime | None]:
        response = self._get("latest", location)
        body = as_dict(response.data, "latest")
        return self._reading(body, location, "latest"), response.server_time

    def history(self, location: Location) -> list[IntensityReading]:
        """The last 24 h (free tier) as readings, oldest first."""
        body = as_dict(self._get("history", location).data, "history")
        items = as_list(body.get("history", body.get("data")), "history.history")
        readings = [self._reading(as_dict(item, "history item"), location, "history item") for item in items]
        return sorted(readings, key=lambda r: r.observed_at or datetime.min)

    def forecast(self, location: Location) -> Forecast:
        body = as_dict(self._get("forecast", location, horizonHours=str(self._horizon_hours)).data, "forecast")
        items = as_list(body.get("forecast", body.get("data")), "forecast.forecast")
        step = timedelta(seconds=_GRANULARITY_S.get(str(body.get("temporalGranularity")), self.granularity_s))
        starts_values = sorted(
            (
                parse_time(as_dict(item, "forecast item").get("datetime"), "forecast.datetime"),
                intensity_value(item.get("carbonIntensity"), "forecast.carbonIntensity"),
            )
            for item in items[:MAX_FORECAST_POINTS]
        )
        points = tuple(ForecastPoint(start, start + step, value) for start, value in starts_values)
        generated = body.get("updatedAt")
        return Forecast(
            zone=location.zone,
            source=self.source,
            points=points,
            generated_at=parse_time(generated, "forecast.updatedAt") if generated else None,
        )

    def _get(self, endpoint: str, location: Location, **extra: str) -> JsonResponse:
        params = {**self._selector(location), "emissionFactorType": self._factor, **extra}
        return self._http.get_json(f"{self._root}/{endpoint}", params=params, headers={"auth-token": self._key.value})

    @staticmethod
    def _selector(location: Location) -> Mapping[str, str]:
        # Both documented spellings of "never fall back to the caller's IP".
        never_by_ip = {"disableCallerLookup": "true", "shouldUseFallbackCallerLookup": "false"}
        if location.cloud is not None:
            provider, region = location.cloud
            return {"dataCenterProvider": provider.lower(), "dataCenterRegion": region.lower(), **never_by_ip}
        if not location.zone:
            raise ValueError("an Electricity Maps request needs a zone or a data-center region")
        return {"zone": location.zone, **never_by_ip}

    def _reading(self, body: Mapping[str, Any], location: Location, what: str) -> IntensityReading:
        unit = body.get("unit", body.get("units"))
        if unit is not None and str(unit).replace(" ", "").lower() not in _ACCEPTED_UNITS:
            raise payload_error(f"{what}: unexpected unit {unit!r}")
        factor = body.get("emissionFactorType")
        if factor is not None and factor != self._factor:
            raise payload_error(f"{what}: asked for {self._factor} factors, got {factor!r}")
        return IntensityReading(
            zone=location.zone,
            g_per_kwh=intensity_value(body.get("carbonIntensity"), f"{what}.carbonIntensity"),
            source=self.source,
            observed_at=parse_time(body.get("datetime"), f"{what}.datetime"),
        )
