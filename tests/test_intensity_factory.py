"""build_intensity(settings): provider choice, configuration errors, threads, and a warm restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from intensity_support import NOW, STATIC, FakeClock, LoopbackServer, Reply, neso_fw48h, neso_national

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.factory import build_intensity, build_providers, cache_file_path
from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.persist import default_path
from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes


def _settings(**values: object) -> CarbonSettings:
    return CarbonSettings.from_env({}, **values)


def test_no_provider_means_static_only_with_no_thread_and_no_file(tmp_path: Path) -> None:
    cache = build_intensity(_settings(intensity_cache_file=str(tmp_path / "c.json")), static=STATIC)
    assert cache.refreshers == ()
    reading = cache.lookup("FR")
    assert (reading.source, reading.fallback) == ("static", False)
    cache.close()
    assert not (tmp_path / "c.json").exists()


def test_providers_are_chosen_by_credentials_unless_named() -> None:
    http = HttpClient()
    try:
        auto = build_providers(_settings(electricitymaps_api_key="k", carbonaware_url="http://127.0.0.1:9"), http)
        assert [p.name for p in auto] == ["electricitymaps", "carbonaware"]  # NESO only when named
        named = build_providers(
            _settings(intensity_providers="neso,electricitymaps", electricitymaps_api_key="k"), http
        )
        assert [p.name for p in named] == ["neso", "electricitymaps"]
        assert build_providers(_settings(intensity_providers="none", electricitymaps_api_key="k"), http) == []
        with pytest.raises(ConfigError, match="credentials"):
            build_providers(_settings(intensity_providers="watttime"), http)
        with pytest.raises(ConfigError, match="unknown provider"):
            build_providers(_settings(intensity_providers="co2signal"), http)
    finally:
        http.close()


def test_settings_from_the_environment_keep_keys_out_of_repr() -> None:
    settings = CarbonSettings.from_env(
        {
            "OTEL_CARBON_ELECTRICITYMAPS_API_KEY": "em-secret-123",
            "OTEL_CARBON_WATTTIME_PASSWORD": "wt-secret-456",
            "OTEL_CARBON_WATTTIME_REGIONS": "US-CAL-CISO=CAISO_NORTH",
            "OTEL_CARBON_INTENSITY_TTL_S": "600",
        }
    )
    assert settings.electricitymaps_api_key == "em-secret-123"
    assert settings.watttime_regions == {"US-CAL-CISO": "CAISO_NORTH"} and settings.intensity_ttl_s == 600.0
    assert "secret" not in repr(settings)
    with pytest.raises(ConfigError, match="OTEL_CARBON_ELECTRICITYMAPS_API_VERSION"):
        CarbonSettings.from_env({"OTEL_CARBON_ELECTRICITYMAPS_API_VERSION": "v2"})
    with pytest.raises(ConfigError, match="OTEL_CARBON_NESO_BASE_URL"):
        CarbonSettings.from_env({"OTEL_CARBON_NESO_BASE_URL": "ftp://example"})


def test_cache_file_setting(tmp_path: Path) -> None:
    assert cache_file_path(_settings()) == default_path()
    assert cache_file_path(_settings(intensity_cache_file="off")) is None
    assert cache_file_path(_settings(intensity_cache_file=str(tmp_path / "x.json"))) == tmp_path / "x.json"


def test_threads_refresh_then_a_restart_starts_warm(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        server.route(r"/intensity", Reply(body=neso_national(186.0, 190.0)))
        server.route(r"/intensity/[^/]+/fw48h", Reply(body=neso_fw48h()))
        settings = _settings(
            intensity_providers="neso",
            neso_base_url=server.url,
            intensity_zones="GB",
            intensity_cache_file=str(tmp_path / "intensity.json"),
        )
        clock = FakeClock()  # agrees with the server's Date header (NOW)
        cache = build_intensity(settings, static=STATIC, clock=clock)
        deadline = time.monotonic() + 5.0
        while cache.lookup("GB").fallback and time.monotonic() < deadline:
            time.sleep(0.01)
        live = cache.lookup("GB")
        cache.close()  # stops the thread and saves
    assert (live.g_per_kwh, live.source, live.fallback) == (190.0, "neso", False)
    assert (tmp_path / "intensity.json").exists()

    clock.advance(60)  # the next process, a minute later, with the provider unreachable
    offline = settings.with_changes(neso_base_url="http://127.0.0.1:9")
    restarted = build_intensity(offline, static=STATIC, clock=clock, start=False)
    warm = restarted.lookup("GB")
    assert (warm.g_per_kwh, warm.source, warm.fallback) == (190.0, "neso", False)
    assert warm.observed_at == NOW.replace(minute=0)
    forecast = restarted.forecast("GB")
    assert forecast is not None and len(forecast.points) == 4
    restarted.close()


def test_enrichment_reads_live_intensity_through_the_cache() -> None:
    clock = FakeClock()
    cache = IntensityCache(STATIC, serves=lambda zone: zone == "GB", clock=clock)
    cache.update(IntensityReading("GB", 190.0, "neso", observed_at=NOW.replace(minute=0)), fresh_for_s=3600)
    context = EnrichmentContext(settings=_settings(provider_zones="openai=GB"), intensity=cache)
    span = {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
    }
    live = carbon_attributes(span, {}, context)
    assert (live[sc.SCI_INTENSITY], live[sc.SCI_INTENSITY_SOURCE], live[sc.SCI_INTENSITY_FALLBACK]) == (
        190.0,
        "neso",
        False,
    )
    assert live[sc.SCI_INTENSITY_OBSERVED_AT] == "2026-11-22T14:00:00+00:00"
    assert live[sc.SCI_OPERATIONAL] == pytest.approx(live[sc.SCI_ENERGY] / 3.6e6 * 190.0)
    clock.advance(3601)  # the provider went quiet: the last known value, flagged
    stale = carbon_attributes(span, {}, context)
    assert (stale[sc.SCI_INTENSITY], stale[sc.SCI_INTENSITY_FALLBACK]) == (190.0, True)
