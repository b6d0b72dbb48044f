"""Shared test helpers for the intensity area: a loopback HTTP server and documented-shape fixtures.

The server is a real ``http.server`` on 127.0.0.1 whose ``Date`` header comes
from a settable clock (so clock-skew cases are deterministic), with scripted
replies per path pattern: JSON, status codes, ``Retry-After``, delays past the
client timeout, truncated and garbage bodies.  Fixtures follow the providers'
published JSON (see each builder's docstring for the source).
"""

from __future__ import annotations

import email.utils
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_carbon import semconv as sc
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.health import IntensityHealth
from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.providers import CarbonAwareSdk, ElectricityMaps, Neso, Provider, Secret, WattTime
from otel_carbon.intensity.refresh import Refresher
from otel_carbon.intensity.static import StaticIntensity

#: The fixed "now" of every intensity test: 2026-11-22 14:20 UTC.
NOW = datetime(2026, 11, 22, 14, 20, tzinfo=timezone.utc)
NOW_S = NOW.timestamp()

#: A small static table (gCO2e/kWh) so cache tests do not depend on the shipped CSV's values.
STATIC = StaticIntensity({"WORLD": 480.0, "DE": 380.0, "GB": 210.0, "US": 385.0, "FR": 55.0, "IE": 280.0})


class FakeClock:
    """An epoch-seconds clock that moves only when told."""

    def __init__(self, start: float = NOW_S) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    """One scripted answer. ``raw`` bypasses JSON encoding; ``length`` overrides Content-Length."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    length: int | None = None

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Route = Reply | Callable[[Seen], Reply]


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with scripted routes (regex on the path)."""

    def __init__(self) -> None:
        self.routes: list[tuple[re.Pattern[str], Route]] = []
        self.requests: list[Seen] = []
        self.server_time: datetime = NOW
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                split = urlsplit(self.path)
                seen = Seen(split.path, parse_qs(split.query), {k.lower(): v for k, v in self.headers.items()})
                outer.requests.append(seen)
                reply = outer._match(seen)
                if reply.delay_s:
                    time.sleep(min(reply.delay_s, 3.0))
                body = reply.payload()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(reply.length if reply.length is not None else len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.format_datetime(outer.server_time, usegmt=True)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, pattern: str, reply: Route) -> None:
        """Answer paths matching ``pattern`` (full match) with ``reply``; later routes win."""
        self.routes.insert(0, (re.compile(pattern), reply))

    def _match(self, seen: Seen) -> Reply:
        for pattern, reply in self.routes:
            if pattern.fullmatch(seen.path):
                return reply(seen) if callable(reply) else reply
        return Reply(404, {"error": "not found"})

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def refused_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- fixtures shaped from the published docs ------------------------------------

HOUR = NOW.replace(minute=0, second=0, microsecond=0)


def em_latest(
    zone: str = "DE", value: float = 302.0, factor: str = "lifecycle", when: datetime = HOUR
) -> dict[str, Any]:
    """Electricity Maps ``carbon-intensity/latest`` (developer hub reference)."""
    return {
        "zone": zone,
        "carbonIntensity": value,
        "datetime": iso(when),
        "updatedAt": iso(NOW - timedelta(minutes=3)),
        "createdAt": iso(when - timedelta(days=3)),
        "emissionFactorType": factor,
        "isEstimated": True,
        "estimationMethod": "TIME_SLICER_AVERAGE",
        "temporalGranularity": "hourly",
    }


def em_history(zone: str = "DE", values: tuple[float, ...] = (320.0, 310.0, 302.0)) -> dict[str, Any]:
    """Electricity Maps ``carbon-intensity/history``: ``{zone, history: [latest-shaped items]}``."""
    start = HOUR - timedelta(hours=len(values) - 1)
    return {
        "zone": zone,
        "history": [em_latest(zone, v, when=start + timedelta(hours=i)) for i, v in enumerate(values)],
    }


def em_forecast(zone: str = "DE", values: tuple[float, ...] = (300.0, 280.0, 250.0, 260.0)) -> dict[str, Any]:
    """Electricity Maps ``carbon-intensity/forecast``: hourly ``{carbonIntensity, datetime}`` points."""
    return {
        "zone": zone,
        "forecast": [
            {"carbonIntensity": v, "datetime": iso(HOUR + timedelta(hours=i + 1))} for i, v in enumerate(values)
        ],
        "updatedAt": iso(NOW - timedelta(minutes=10)),
        "temporalGranularity": "hourly",
    }


FIVE = NOW.replace(second=0, microsecond=0)


def wt_data(
    values: tuple[float, ...] = (900.0, 880.0, 860.0), units: str = "lbs_co2_per_mwh", region: str = "CAISO_NORTH"
) -> dict[str, Any]:
    """WattTime v3 ``/v3/forecast``: ``{data: [{point_time, value}], meta: {units, region, signal_type, …}}``."""
    return {
        "data": [{"point_time": iso(FIVE + timedelta(minutes=5 * i)), "value": v} for i, v in enumerate(values)],
        "meta": {
            "data_point_period_seconds": 300,
            "region": region,
            "signal_type": "co2_moer",
            "units": units,
            "model": {"date": "2026-03-01"},
            "generated_at_period_seconds": 300,
            "generated_at": iso(FIVE),
        },
    }


def wt_index(value: float = 70.0) -> dict[str, Any]:
    """WattTime v3 ``/v3/signal-index``: a 0–100 percentile (``meta.units = "percentile"``)."""
    return {
        "data": [{"point_time": iso(FIVE), "value": value}],
        "meta": {
            "region": "CAISO_NORTH",
            "signal_type": "co2_moer",
            "units": "percentile",
            "model": {"date": "2026-03-01"},
        },
    }


HALF = NOW.replace(minute=0 if NOW.minute < 30 else 30, second=0, microsecond=0)


def neso_item(start: datetime, forecast: float, actual: float | None = None) -> dict[str, Any]:
    """One NESO half-hour: ``{from, to, intensity: {forecast, actual, index}}`` (api-definitions)."""
    return {
        "from": start.strftime("%Y-%m-%dT%H:%MZ"),
        "to": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
        "intensity": {"forecast": forecast, "actual": actual, "index": "moderate"},
    }


def neso_national(forecast: float = 186.0, actual: float | None = 190.0) -> dict[str, Any]:
    return {"data": [neso_item(HALF, forecast, actual)]}


def neso_fw48h(values: tuple[float, ...] = (186.0, 150.0, 120.0, 140.0)) -> dict[str, Any]:
    return {"data": [neso_item(HALF + timedelta(minutes=30 * i), v) for i, v in enumerate(values)]}


def serve_neso_now(
    server: LoopbackServer,
    national: tuple[float, float | None] = (186.0, 190.0),
    forecast: tuple[float, ...] = (186.0, 150.0, 120.0, 140.0),
) -> tuple[datetime, datetime]:
    """NESO ``/intensity`` (forecast, actual) and ``fw48h`` on ``server`` from the wall clock's half hour.

    For commands that read the real time.  Returns (now, the half hour the data starts at).
    """
    now = datetime.now(timezone.utc)
    server.server_time = now
    half = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    server.route(r"/intensity", Reply(body={"data": [neso_item(half, *national)]}))
    points = [neso_item(half + timedelta(minutes=30 * i), v) for i, v in enumerate(forecast)]
    server.route(r"/intensity/[^/]+/fw48h", Reply(body={"data": points}))
    return now, half


def neso_regional(region: int = 13, value: float = 179.0) -> dict[str, Any]:
    """``/regional/regionid/{id}``: ``{data: [{regionid, dnoregion, shortname, data: [...]}]}``."""
    item = neso_item(HALF, value)
    item["intensity"].pop("actual")
    item["generationmix"] = [{"fuel": "gas", "perc": 38.5}, {"fuel": "wind", "perc": 30.1}]
    return {"data": [{"regionid": region, "dnoregion": "UKPN London", "shortname": "London", "data": [item]}]}


def neso_regional_fw48h(region: int = 13, values: tuple[float, ...] = (179.0, 160.0)) -> dict[str, Any]:
    """``/regional/intensity/{from}/fw48h/regionid/{id}``: ``{data: {regionid, …, data: [...]}}``."""
    return {
        "data": {
            "regionid": region,
            "shortname": "London",
            "data": [neso_item(HALF + timedelta(minutes=30 * i), v) for i, v in enumerate(values)],
        }
    }


def cas_emissions(location: str = "eastus", values: tuple[float, ...] = (410.0, 395.2)) -> list[dict[str, Any]]:
    """Carbon Aware WebAPI ``/emissions/bylocation``: ``[{location, time, rating, duration}]``."""
    return [
        {
            "location": location,
            "time": iso(FIVE - timedelta(minutes=5 * (len(values) - 1 - i))),
            "rating": v,
            "duration": "00:05:00",
        }
        for i, v in enumerate(values)
    ]


def cas_forecast(location: str = "eastus", values: tuple[float, ...] = (400.0, 380.0, 390.0)) -> list[dict[str, Any]]:
    """Carbon Aware WebAPI ``/emissions/forecasts/current``: one forecast per location."""
    points = [
        {"location": location, "timestamp": iso(FIVE + timedelta(minutes=5 * i)), "duration": 5, "value": v}
        for i, v in enumerate(values)
    ]
    best = min(points, key=lambda p: p["value"])
    return [
        {
            "generatedAt": iso(FIVE),
            "requestedAt": iso(NOW),
            "location": location,
            "dataStartAt": points[0]["timestamp"],
            "dataEndAt": points[-1]["timestamp"],
            "windowSize": 5,
            "optimalDataPoints": [best],
            "forecastData": points,
        }
    ]


# --- one provider wired to a loopback server (the `rig_for` fixture) -------------

API_KEY = "em-key-0123456789abcdef"
WT_PASSWORD = "wt-password-s3cret"


@dataclass
class Kit:
    """One provider wired to a loopback server: its zone, its main data path and a good reply."""

    name: str
    zone: str
    main: str  # regex of the path that carries the current value
    good: Callable[[], Reply]
    install: Callable[[LoopbackServer], None]  # routes for the other endpoints
    build: Callable[[HttpClient, str, FakeClock], Provider]
    expected: float  # gCO2e/kWh the good reply means
    bad_values: Reply  # a well-formed answer with unusable units or values
    empty: Reply


def _em_build(http: HttpClient, base: str, clock: FakeClock) -> Provider:
    return ElectricityMaps(http, Secret(API_KEY), base_url=base, version="v4")


def _wt_install(server: LoopbackServer) -> None:
    server.route(r"/login", Reply(body={"token": "wt-token-1"}))


def _wt_build(http: HttpClient, base: str, clock: FakeClock) -> Provider:
    return WattTime(
        http, "ada", Secret(WT_PASSWORD), base_url=base, regions={"US-CAL-CISO": "CAISO_NORTH"}, clock=clock
    )


def _neso_build(http: HttpClient, base: str, clock: FakeClock) -> Provider:
    return Neso(http, base_url=base, clock=clock)


def _cas_build(http: HttpClient, base: str, clock: FakeClock) -> Provider:
    return CarbonAwareSdk(http, base, locations={"US-MIDA-PJM": "eastus"}, clock=clock)


KITS = {
    "electricitymaps": Kit(
        "electricitymaps",
        "DE",
        r"/v4/carbon-intensity/latest",
        lambda: Reply(body=em_latest("DE", 302.0)),
        lambda s: s.route(r"/v4/carbon-intensity/forecast", Reply(body=em_forecast())),
        _em_build,
        302.0,
        Reply(body={**em_latest(), "unit": "lbs/MWh"}),
        Reply(body={"zone": "DE"}),
    ),
    "watttime": Kit(
        "watttime",
        "US-CAL-CISO",
        r"/v3/forecast",
        lambda: Reply(body=wt_data((1000.0, 900.0))),
        _wt_install,
        _wt_build,
        1000.0 * 0.45359237,  # lbs/MWh → g/kWh
        Reply(body=wt_data(units="tons_co2_per_day")),
        Reply(body={"data": [], "meta": {"units": "lbs_co2_per_mwh"}}),
    ),
    "neso": Kit(
        "neso",
        "GB",
        r"/intensity",
        lambda: Reply(body=neso_national(186.0, 190.0)),
        lambda s: s.route(r"/intensity/[^/]+/fw48h", Reply(body=neso_fw48h())),
        _neso_build,
        190.0,  # the actual, once published, wins over the forecast
        Reply(body=neso_national(-5.0, None)),
        Reply(body={"data": []}),
    ),
    "carbonaware": Kit(
        "carbonaware",
        "US-MIDA-PJM",
        r"/emissions/bylocation",
        lambda: Reply(body=cas_emissions("eastus", (410.0, 395.2))),
        lambda s: s.route(r"/emissions/forecasts/current", Reply(body=cas_forecast())),
        _cas_build,
        395.2,  # the latest of the two ratings
        Reply(body=[{"location": "eastus", "time": "2026-11-22T14:15:00Z", "rating": "high"}]),
        Reply(body=[]),
    ),
}


@dataclass
class Rig:
    kit: Kit
    server: LoopbackServer
    cache: IntensityCache
    refresher: Refresher
    clock: FakeClock
    reader: InMemoryMetricReader

    def failures(self) -> dict[str, int]:
        """Refresh failures counted so far, by ``error.type``."""
        return {str(attrs[sc.ERROR_TYPE]): value for attrs, value in self.points(sc.METRIC_INTENSITY_REFRESH_FAILURES)}

    def points(self, metric_name: str) -> list[tuple[dict[str, Any], float]]:
        """``(attributes, value)`` of every data point of one metric, as the SDK reader sees them."""
        found = []
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == metric_name:
                        found.extend((dict(p.attributes), p.value) for p in metric.data.data_points)
        return found

    def requests_to(self, pattern: str) -> int:
        return sum(1 for path in self.server.paths() if re.fullmatch(pattern, path))


@pytest.fixture(name="rig_for")
def rig_for_fixture() -> Iterator[Callable[..., Rig]]:
    """``rig_for(name, …)`` builds a :class:`Rig`; servers and clients are closed afterwards."""
    servers: list[LoopbackServer] = []
    clients: list[HttpClient] = []

    def make(
        name: str,
        *,
        base: str | None = None,
        timeout_s: float = 0.3,
        build: Callable[[HttpClient, str, FakeClock], Provider] | None = None,
        **refresher_options: Any,
    ) -> Rig:
        """``name``'s provider on a fresh server, a cache over ``STATIC`` and a jitter-free refresher."""
        kit = KITS[name]
        server = LoopbackServer().__enter__()
        servers.append(server)
        server.route(kit.main, kit.good())
        kit.install(server)
        clock = FakeClock()
        http = HttpClient(timeout_s)
        clients.append(http)
        provider = (build or kit.build)(http, base or server.url, clock)
        reader = InMemoryMetricReader()
        cache = IntensityCache(STATIC, serves=lambda zone: True, priority=[name], clock=clock)
        health = IntensityHealth(cache, MeterProvider(metric_readers=[reader]))
        options = {"jitter": 0.0, **refresher_options}
        refresher = Refresher(provider, cache, health=health, clock=clock, **options)
        cache.watch(kit.zone)
        return Rig(kit, server, cache, refresher, clock, reader)

    yield make
    for http in clients:
        http.close()
    for server in servers:
        server.__exit__(None, None, None)
