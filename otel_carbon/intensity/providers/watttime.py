"""WattTime API v3: login → bearer token, region from location, forecast, signal index.

``GET /login`` with HTTP Basic returns ``{"token": …}``, valid 30 minutes; the
token is reused until 25 minutes old and renewed at once on a 401.  The
current value is the first point of ``/v3/forecast`` (``horizon_hours=0`` is
the nowcast); with ``forecast`` the horizon is 24 h.  Values come in
``meta.units``: ``lbs_co2_per_mwh`` is converted (1 lb/MWh = 0.45359237
g/kWh), ``kg_co2_per_mwh`` equals g/kWh, and a ``percentile``/``percent``
signal (the free ``/v3/signal-index``) is an *index*, returned as
:class:`IntensityIndex` and never mixed into readings.  When the plan does not
cover a region (403), the provider falls back to the signal index.

Region: ``regions`` mapping (zone → WattTime region) first, then the shipped
cloud-region table, then ``/v3/region-from-loc`` with the region's
coordinates (cached; WattTime regions do not move).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

from otel_carbon.intensity.errors import FailureKind, ProviderError
from otel_carbon.intensity.http import HttpClient, JsonResponse
from otel_carbon.intensity.providers.base import (
    MAX_FORECAST_POINTS,
    Fetched,
    Location,
    Secret,
    as_dict,
    as_list,
    intensity_value,
    parse_time,
    payload_error,
)
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityIndex, IntensityReading
from otel_carbon.intensity.zones import region_info, regions_in_zone

DEFAULT_BASE_URL = "https://api.watttime.org"
SIGNALS = ("co2_moer", "co2_aoer")
LB_PER_MWH_TO_G_PER_KWH = 0.45359237  # 1 lb = 453.59237 g; 1 MWh = 1000 kWh
_UNIT_FACTORS = {"lbs_co2_per_mwh": LB_PER_MWH_TO_G_PER_KWH, "kg_co2_per_mwh": 1.0, "g_co2_per_kwh": 1.0}
_INDEX_UNITS = frozenset({"percentile", "percent"})
TOKEN_REUSE_S = 25 * 60.0  # tokens live 30 min; renew with a margin
_STEP = timedelta(minutes=5)


class WattTime:
    """Client for ``api.watttime.org`` v3 (thread-safe token handling)."""

    name = "watttime"
    granularity_s = 300.0  # 5-minute data
    budget_per_hour = 600  # documented limit is 3,000 per 5 minutes; stay far below

    def __init__(
        self,
        http: HttpClient,
        username: str,
        password: Secret,
        *,
        base_url: str = DEFAULT_BASE_URL,
        signal_type: str = "co2_moer",
        regions: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if signal_type not in SIGNALS:
            raise ValueError(f"WattTime signal must be one of {', '.join(SIGNALS)}")
        self._http = http
        self._username = username
        self._password = password
        self._base = base_url.rstrip("/")
        self._signal = signal_type
        self._regions = {zone.upper(): region for zone, region in (regions or {}).items()}
        self._clock = clock
        self._token: tuple[Secret, float] | None = None
        self._token_lock = threading.Lock()
        self._located: dict[tuple[float, float], str] = {}
        self.source = f"{self.name}.{signal_type}"

    def __repr__(self) -> str:
        return f"WattTime(base={self._base!r}, username={self._username!r}, signal={self._signal!r})"

    # --- locations --------------------------------------------------------

    def serves(self, location: Location) -> bool:
        return any(True for _ in self._candidates(location))

    def region_for(self, location: Location) -> str:
        """The WattTime region of ``location``; may call ``/v3/region-from-loc`` (answers cached)."""
        for region, coordinates in self._candidates(location):
            if region:
                return region
            if coordinates is not None:
                return self._locate(coordinates)
        raise payload_error(f"no WattTime region known for zone {location.zone!r}")

    def _candidates(self, location: Location) -> Iterator[tuple[str | None, tuple[float, float] | None]]:
        """Ways to name the region, best first: the configured mapping, the cloud region's own
        WattTime name or coordinates, then those of any shipped region in the same zone (a zone
        can span several WattTime regions, so a region's own coordinates beat a sibling's name)."""
        if location.zone.upper() in self._regions:
            yield self._regions[location.zone.upper()], None
        own = region_info(*location.cloud) if location.cloud is not None else None
        siblings = regions_in_zone(location.zone)
        for info in ([own] if own is not None else []) + siblings:
            if info.watttime_region:
                yield info.watttime_region, None
            elif info.latitude is not None and info.longitude is not None:
                yield None, (info.latitude, info.longitude)

    def _locate(self, coordinates: tuple[float, float]) -> str:
        if coordinates not in self._located:
            latitude, longitude = coordinates
            params = {"latitude": str(latitude), "longitude": str(longitude), "signal_type": self._signal}
            body = as_dict(self._get("/v3/region-from-loc", params).data, "region-from-loc")
            region = body.get("region")
            if not isinstance(region, str) or not region:
                raise payload_error("region-from-loc: no region in the answer")
            self._located[coordinates] = region
        return self._located[coordinates]

    # --- data ----------------------------------------------------------------

    def fetch(self, location: Location, *, forecast: bool) -> Fetched:
        region = self.region_for(location)
        try:
            response = self._get(
                "/v3/forecast",
                {"region": region, "signal_type": self._signal, "horizon_hours": "24" if forecast else "0"},
            )
        except ProviderError as exc:
            if exc.kind is FailureKind.AUTH and exc.status == 403:
                return Fetched(index=self.signal_index(location), server_time=None)
            raise
        body = as_dict(response.data, "forecast")
        meta = as_dict(body.get("meta", {}), "forecast.meta")
        items = as_list(body.get("data"), "forecast.data")
        if not items:
            raise payload_error("forecast: no data points")
        units = str(meta.get("units", "")).lower()
        if units in _INDEX_UNITS:
            return Fetched(index=self._index(location, items, units), server_time=response.server_time)
        factor = _UNIT_FACTORS.get(units)
        if factor is None:
            raise payload_error(f"forecast: unexpected units {meta.get('units')!r}")
        starts_values = sorted(
            (
                parse_time(as_dict(item, "forecast point").get("point_time"), "point_time"),
                intensity_value(_number(item.get("value")) * factor, "forecast value"),
            )
            for item in items[:MAX_FORECAST_POINTS]
        )
        first_time, first_value = starts_values[0]
        reading = IntensityReading(location.zone, first_value, self.source, observed_at=first_time)
        points = None
        if forecast:
            generated = meta.get("generated_at")
            points = Forecast(
                zone=location.zone,
                source=self.source,
                points=tuple(ForecastPoint(start, start + _STEP, value) for start, value in starts_values),
                generated_at=parse_time(generated, "meta.generated_at") if generated else None,
            )
        return Fetched(reading=reading, forecast=points, server_time=response.server_time)

    def signal_index(self, location: Location) -> IntensityIndex:
        """The free ``/v3/signal-index``: where now sits in the near-term range, 0–100 (not g/kWh)."""
        response = self._get("/v3/signal-index", {"region": self.region_for(location), "signal_type": self._signal})
        body = as_dict(response.data, "signal-index")
        units = str(as_dict(body.get("meta", {}), "signal-index.meta").get("units", "percentile")).lower()
        if units not in _INDEX_UNITS:
            raise payload_error(f"signal-index: unexpected units {units!r}")
        return self._index(location, as_list(body.get("data"), "signal-index.data"), units)

    def _index(self, location: Location, items: list[Any], units: str) -> IntensityIndex:
        if not items:
            raise payload_error("signal-index: no data points")
        item = as_dict(items[0], "signal-index point")
        value = _number(item.get("value"))
        if not 0.0 <= value <= 100.0:
            raise payload_error(f"signal-index: {value!r} is not a percentage")
        observed = item.get("point_time")
        return IntensityIndex(
            zone=location.zone,
            value=value,
            unit="percent",
            source=f"{self.source}.index",
            observed_at=parse_time(observed, "point_time") if observed else None,
        )

    # --- auth ----------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, str]) -> JsonResponse:
        token = self._bearer()
        try:
            return self._http.get_json(self._base + path, params=params, headers={"Authorization": f"Bearer {token}"})
        except ProviderError as exc:
            if exc.kind is not FailureKind.AUTH or exc.status != 401:
                raise
        # Expired or revoked: log in again once, then retry once.
        token = self._bearer(force=True)
        return self._http.get_json(self._base + path, params=params, headers={"Authorization": f"Bearer {token}"})

    def _bearer(self, *, force: bool = False) -> str:
        with self._token_lock:
            now = self._clock()
            if not force and self._token is not None and now - self._token[1] < TOKEN_REUSE_S:
                return self._token[0].value
            body = as_dict(
                self._http.get_json(self._base + "/login", auth=(self._username, self._password.value)).data,
                "login",
            )
            token = body.get("token")
            if not isinstance(token, str) or not token:
                raise payload_error("login: no token in the answer")
            self._token = (Secret(token), now)
            return token


def _number(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise payload_error(f"expected a number, got {type(raw).__name__}")
    return float(raw)
