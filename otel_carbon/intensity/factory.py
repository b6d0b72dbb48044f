"""``build_intensity(settings)``: the intensity cache with its providers, refreshers, file and metrics.

Which providers run (``intensity_providers``; empty = every provider whose
key or URL is set — NESO, being keyless, only when named):

========================  ===================================================
``electricitymaps``       needs ``electricitymaps_api_key``
``watttime``              needs ``watttime_username`` + ``watttime_password``
``carbonaware``           needs ``carbonaware_url``
``neso``                  no key; Great Britain only
``none``                  static table only, no network
========================  ===================================================

With no provider the cache is the static table alone: no thread, no file, no
network.  Keys travel only from the settings into request headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from opentelemetry.metrics import MeterProvider

from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.health import IntensityHealth
from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.persist import CacheFile, default_path
from otel_carbon.intensity.providers import (
    PROVIDER_NAMES,
    CarbonAwareSdk,
    ElectricityMaps,
    Location,
    Neso,
    Provider,
    Secret,
    WattTime,
)
from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.intensity.refresh import Refresher
from otel_carbon.intensity.static import StaticIntensity

_OFF = frozenset({"off", "none", "false", "0", ""})


def build_providers(
    settings: CarbonSettings, http: HttpClient, clock: Callable[[], float] = time.time
) -> list[Provider]:
    """The configured providers in priority order; raises ConfigError for an unusable choice."""
    names = [name.strip().lower() for name in settings.intensity_providers]
    if names in (["none"], ["static"]):
        return []
    unknown = [name for name in names if name not in PROVIDER_NAMES]
    if unknown:
        raise ConfigError(
            f"OTEL_CARBON_INTENSITY_PROVIDERS: unknown provider(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(PROVIDER_NAMES)} or none"
        )
    explicit = bool(names)
    if not explicit:
        names = [name for name in PROVIDER_NAMES if name != Neso.name]
    providers: list[Provider] = []
    for name in names:
        provider = _build_one(name, settings, http, clock)
        if provider is not None:
            providers.append(provider)
        elif explicit:
            raise ConfigError(f"OTEL_CARBON_INTENSITY_PROVIDERS names {name}, but its credentials/URL are not set")
    return providers


def _build_one(name: str, s: CarbonSettings, http: HttpClient, clock: Callable[[], float]) -> Provider | None:
    if name == ElectricityMaps.name:
        if not s.electricitymaps_api_key:
            return None
        return ElectricityMaps(
            http,
            Secret(s.electricitymaps_api_key),
            base_url=s.electricitymaps_base_url,
            version=s.electricitymaps_api_version,
            emission_factor=s.electricitymaps_emission_factor,
        )
    if name == WattTime.name:
        if not (s.watttime_username and s.watttime_password):
            return None
        return WattTime(
            http,
            s.watttime_username,
            Secret(s.watttime_password),
            base_url=s.watttime_base_url,
            signal_type=s.watttime_signal,
            regions=s.watttime_regions,
            clock=clock,
        )
    if name == CarbonAwareSdk.name:
        if not s.carbonaware_url:
            return None
        return CarbonAwareSdk(http, s.carbonaware_url, locations=s.carbonaware_locations, clock=clock)
    return Neso(http, base_url=s.neso_base_url, clock=clock)


def cache_file_path(settings: CarbonSettings) -> Path | None:
    raw = settings.intensity_cache_file
    if raw is None:
        return default_path()
    return None if raw.strip().lower() in _OFF else Path(raw).expanduser()


def build_intensity(
    settings: CarbonSettings,
    *,
    meter_provider: MeterProvider | None = None,
    start: bool = True,
    http: HttpClient | None = None,
    static: StaticIntensity | None = None,
    clock: Callable[[], float] = time.time,
) -> IntensityCache:
    """A ready cache: warm from disk, refreshers started (unless ``start=False``).

    ``static`` replaces the shipped table; ``http`` and ``clock`` are for tests.

    Zones watched from start: ``intensity_zones`` and ``zone``; any other
    zone (a provider's serving zone, ``remote_zone``…) is watched from its first
    lookup.  Call ``cache.close()`` at shutdown (stops threads, saves).
    """
    http = http or HttpClient(settings.intensity_timeout_s)
    providers = build_providers(settings, http, clock)
    if not providers:
        http.close()
        return IntensityCache(static, clock=clock)

    def serves(zone: str) -> bool:
        location = Location(zone)
        return any(provider.serves(location) for provider in providers)

    cache = IntensityCache(static, serves=serves, priority=[p.name for p in providers], clock=clock)
    path = cache_file_path(settings)
    store = CacheFile(path, clock=clock) if path is not None else None
    if store is not None:
        store.load(cache)
    health = IntensityHealth(cache, meter_provider)
    on_update = (lambda: store.save(cache)) if store is not None else None
    refreshers = [
        Refresher(
            provider,
            cache,
            ttl_s=settings.intensity_ttl_s,
            budget_per_hour=settings.intensity_budget_per_hour,
            forecast=settings.intensity_forecast,
            health=health,
            on_update=on_update,
            clock=clock,
        )
        for provider in providers
    ]
    for zone in (*settings.intensity_zones, settings.zone):
        if zone:
            cache.watch(zone)
    cache.on_close(http.close)
    if store is not None:
        cache.on_close(lambda: store.save(cache, force=True))
    for refresher in refreshers:
        cache.add_refresher(refresher)
    if start:
        for refresher in refreshers:
            refresher.start()
    return cache


def refresh_now(cache: IntensityCache, location: Location) -> IntensityReading:
    """Refresh ``location`` synchronously from every provider that serves it; return its reading.

    For one-shot commands (no background refreshers started): a failing provider leaves the
    cache's fallback in place, as the background refresh would.
    """
    for refresher in cache.refreshers:
        if refresher.provider.serves(location):
            refresher.refresh(location)
    return cache.lookup(location.zone)


@contextmanager
def refreshed_once(settings: CarbonSettings, *locations: Location) -> Iterator[IntensityCache]:
    """A cache from ``settings`` (no background refresh) with each of ``locations`` refreshed now.

    For one-shot commands; closed (and saved) on exit.  Raises :class:`ConfigError` on entry
    for an unusable provider configuration.
    """
    cache = build_intensity(settings, start=False)
    try:
        for location in locations:
            refresh_now(cache, location)
        yield cache
    finally:
        cache.close()
