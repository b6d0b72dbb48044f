"""Routing tests' set-up: an Electricity Maps loopback server with one live value per zone, feeding a real cache.

Intensities travel the real path: the provider client asks the loopback
server (``/v4/carbon-intensity/latest?zone=…``, the documented JSON), the
refresher stores the reading in the cache, the router looks it up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from intensity_support import API_KEY, NOW_S, FakeClock, LoopbackServer, Reply, Seen, em_latest

from otel_carbon.config import CarbonSettings
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.providers import ElectricityMaps, Secret
from otel_carbon.intensity.refresh import Refresher
from otel_carbon.intensity.static import StaticIntensity
from otel_carbon.intensity.zones import Location

#: Annual averages the staleness rule falls back to (gCO2e/kWh), distinct from the live values.
STATIC = StaticIntensity(
    {"WORLD": 480.0, "SE-SE3": 45.0, "PL": 640.0, "FR": 56.0, "US-MIDA-PJM": 390.0, "IE": 290.0, "DE": 370.0}
)
#: Live values the loopback Electricity Maps serves (gCO2e/kWh).
LIVE = {"SE-SE3": 18.0, "PL": 710.0, "FR": 35.0, "US-MIDA-PJM": 420.0, "IE": 300.0, "DE": 340.0}
#: Settings with no intensity provider and no cache file (the router gets the cache directly).
SETTINGS = CarbonSettings(intensity_providers=("none",), intensity_cache_file="off")


@dataclass
class LiveGrid:
    server: LoopbackServer
    cache: IntensityCache
    clock: FakeClock
    refresher: Refresher

    def refresh(self, *zones: str) -> None:
        for zone in zones:
            assert self.refresher.refresh(Location(zone)), zone


@contextmanager
def live_grid(values: Mapping[str, float] = LIVE) -> Iterator[LiveGrid]:
    """A cache fed from a loopback Electricity Maps serving ``values`` (zones refreshed up front)."""

    def latest(seen: Seen) -> Reply:
        zone = seen.query.get("zone", [""])[0]
        if zone not in values:
            return Reply(404, {"error": f"zone {zone} not found"})
        return Reply(body=em_latest(zone, values[zone]))

    with LoopbackServer() as server:
        server.route(r"/v4/carbon-intensity/latest", latest)
        clock = FakeClock(NOW_S)
        http = HttpClient(1.0)
        try:
            provider = ElectricityMaps(http, Secret(API_KEY), base_url=server.url, version="v4")
            cache = IntensityCache(STATIC, serves=lambda zone: True, priority=["electricitymaps"], clock=clock)
            refresher = Refresher(provider, cache, clock=clock, jitter=0.0, forecast=False)
            grid = LiveGrid(server, cache, clock, refresher)
            grid.refresh(*values)
            yield grid
        finally:
            http.close()
