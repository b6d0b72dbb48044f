"""The cache's lookup contract, freshness, priority, bounds, persistence and health metrics."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from intensity_support import NOW, NOW_S, STATIC, FakeClock
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_carbon import semconv as sc
from otel_carbon.intensity import cache as cache_module
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.health import IntensityHealth
from otel_carbon.intensity.persist import CacheFile
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityReading


def _cache(clock: FakeClock, **options: object) -> IntensityCache:
    return IntensityCache(STATIC, serves=lambda zone: zone in {"DE", "FR", "GB"}, clock=clock, **options)  # type: ignore[arg-type]


def _live(zone: str = "DE", value: float = 300.0, source: str = "electricitymaps.lifecycle") -> IntensityReading:
    return IntensityReading(zone, value, source, observed_at=NOW.replace(minute=0))


# --- lookup contract -----------------------------------------------------------------


def test_static_answers_are_flagged_only_where_a_live_source_was_expected() -> None:
    cache = _cache(FakeClock())
    assert cache.lookup("DE").fallback is True  # served by a provider, no live value yet
    assert cache.lookup("US").fallback is False  # no provider serves it: static is the source
    unknown = cache.lookup("ATLANTIS")
    assert (unknown.zone, unknown.g_per_kwh, unknown.fallback) == ("WORLD", 480.0, True)


def test_lookup_never_raises_on_odd_zones() -> None:
    cache = _cache(FakeClock())
    for zone in ("", "  fr ", "ÜBER-ZONE", "-", None, 42):
        reading = cache.lookup(zone)  # type: ignore[arg-type]
        assert isinstance(reading, IntensityReading)
    assert cache.lookup(None).fallback is True  # type: ignore[arg-type]
    assert cache.lookup("  fr ").g_per_kwh == 55.0


def test_every_spelling_of_a_zone_gets_the_update() -> None:
    cache = _cache(FakeClock())
    assert cache.lookup("de").source == "static"
    cache.update(_live("DE", 300.0))
    assert cache.lookup("de").g_per_kwh == 300.0 and cache.lookup("DE").g_per_kwh == 300.0


def test_hot_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "MAX_HOT_KEYS", 8)
    cache = _cache(FakeClock())
    for i in range(50):
        assert cache.lookup(f"zz-{i}").zone == "WORLD"
    assert len(cache._hot) <= 8  # beyond the cap misses are answered, not memoised


def test_live_zones_are_capped() -> None:
    cache = _cache(FakeClock(), max_zones=2)
    assert cache.update(_live("DE")) and cache.update(_live("FR"))
    assert not cache.update(_live("GB"))
    assert cache.lookup("GB").source == "static"


# --- freshness ------------------------------------------------------------------------------


def test_unattended_cache_checks_freshness_on_every_lookup() -> None:
    clock = FakeClock()
    cache = _cache(clock)
    cache.update(_live(), fresh_for_s=600)
    assert cache.lookup("DE").fallback is False
    clock.advance(601)
    stale = cache.lookup("DE")
    assert (stale.g_per_kwh, stale.fallback, stale.source) == (300.0, True, "electricitymaps.lifecycle")


def test_attended_cache_flips_at_the_deadline_when_maintained() -> None:
    clock = FakeClock()
    cache = _cache(clock)
    cache.attend()  # a refresh thread now promises maintain() by next_change
    cache.update(_live(), fresh_for_s=600)
    assert cache.next_change == NOW_S + 600
    assert cache.lookup("DE").fallback is False
    clock.advance(601)
    cache.maintain()
    assert cache.lookup("DE").fallback is True
    assert cache.next_change == NOW_S + cache_module.DEFAULT_RETAIN_S
    cache.release()
    assert cache.lookup("DE").fallback is True


def test_old_readings_are_forgotten_after_retention() -> None:
    clock = FakeClock()
    cache = _cache(clock, retain_s=3600)
    cache.update(_live(), fresh_for_s=600)
    clock.advance(3601)
    cache.maintain()
    reading = cache.lookup("DE")
    assert (reading.source, reading.fallback) == ("static", True)
    assert cache.ages() == []


def test_fresh_readings_win_by_priority_then_the_newest_stale_one() -> None:
    clock = FakeClock()
    cache = _cache(clock, priority=["electricitymaps", "neso"])
    cache.update(_live("GB", 180.0, "neso"), fresh_for_s=3600)
    clock.advance(1)
    cache.update(_live("GB", 250.0, "electricitymaps.lifecycle"), fresh_for_s=600)
    assert cache.lookup("GB").source == "electricitymaps.lifecycle"
    clock.advance(601)  # the preferred one is stale, the other still fresh
    assert (cache.lookup("GB").source, cache.lookup("GB").fallback) == ("neso", False)
    clock.advance(3600)
    newest = cache.lookup("GB")  # both stale: the most recently received, flagged
    assert (newest.source, newest.fallback) == ("electricitymaps.lifecycle", True)


def test_lookup_zone_starts_being_watched_if_served() -> None:
    cache = _cache(FakeClock())
    woken = []
    cache.add_listener(lambda: woken.append(True))
    cache.lookup("fr")
    cache.lookup("US")  # no provider serves it
    assert [loc.zone for loc in cache.watched()] == ["FR"] and woken == [True]


# --- best window through the cache ----------------------------------------------------


def test_best_window_through_the_cache_with_and_without_a_forecast() -> None:
    clock = FakeClock()
    cache = _cache(clock)
    hour = timedelta(hours=1)
    start = NOW.replace(minute=0)
    values = (300.0, 200.0, 100.0, 250.0)
    points = tuple(ForecastPoint(start + i * hour, start + (i + 1) * hour, v) for i, v in enumerate(values))
    cache.update_forecast(Forecast("DE", "electricitymaps.lifecycle", points))
    window = cache.best_window("de", 2 * hour, start + 4 * hour, now=start)
    # 2-hour means from each start: 250, 150, 175 → start at +1 h, 150 g/kWh; now costs 250.
    assert (window.start, window.g_per_kwh, window.immediate_g_per_kwh) == (start + hour, 150.0, 250.0)
    none = cache.best_window("FR", hour, start + 4 * hour, now=start)
    assert (none.start, none.g_per_kwh, none.fallback) == (start, 55.0, True)


# --- persistence -----------------------------------------------------------------------------


def test_restart_is_warm_and_ages_correctly(tmp_path: Path) -> None:
    clock = FakeClock()
    first = _cache(clock)
    first.update(_live("DE", 300.0), fresh_for_s=1200)
    first.watch("GB")
    hour = timedelta(hours=1)
    first.update_forecast(Forecast("DE", "electricitymaps.lifecycle", (ForecastPoint(NOW, NOW + hour, 280.0),)))
    store = CacheFile(tmp_path / "intensity.json", clock=clock)
    assert store.save(first)

    clock.advance(600)  # restarted 10 min later: 10 of the 20 fresh minutes left
    second = _cache(clock)
    assert CacheFile(tmp_path / "intensity.json", clock=clock).load(second) == 1
    assert (second.lookup("DE").g_per_kwh, second.lookup("DE").fallback) == (300.0, False)
    assert second.ages() == [("DE", "electricitymaps.lifecycle", 600.0)]
    assert "GB" in [loc.zone for loc in second.watched()]  # restored, so refreshes resume at once
    forecast = second.forecast("DE")
    assert forecast is not None and forecast.points[0].g_per_kwh == 280.0
    clock.advance(601)
    assert second.lookup("DE").fallback is True  # aged past its freshness across the restart


def test_save_is_atomic_and_rate_limited(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = _cache(clock)
    cache.update(_live())
    store = CacheFile(tmp_path / "sub" / "intensity.json", min_interval_s=60, clock=clock)
    assert store.save(cache) is True
    assert store.save(cache) is False  # within a minute
    clock.advance(61)
    assert store.save(cache) is True
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["intensity.json"]  # no temp files left
    assert json.loads((tmp_path / "sub" / "intensity.json").read_text())["format"] == "otel-carbon-intensity"


@pytest.mark.parametrize(
    "content",
    [
        b'{"format": "otel-carbon-intensity", "version": 1, "readings": [',
        b"\x00\xff garbage",
        b"[]",
        b'{"format": "otel-carbon-intensity", "version": 99}',
    ],
    ids=["truncated", "binary", "wrong-shape", "future-version"],
)
def test_corrupt_file_is_ignored_with_a_warning_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / f"corrupt-{len(content)}.json"
    path.write_bytes(content)
    clock = FakeClock()
    cache = _cache(clock)
    with caplog.at_level(logging.WARNING):
        assert CacheFile(path, clock=clock).load(cache) == 0
    assert "ignoring unreadable intensity cache file" in caplog.text
    assert cache.lookup("DE").source == "static"
    cache.update(_live())
    assert CacheFile(path, clock=clock).save(cache, force=True)
    rebuilt = _cache(clock)
    assert CacheFile(path, clock=clock).load(rebuilt) == 1


def test_bad_entries_are_skipped_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "intensity.json"
    good = {
        "zone": "DE",
        "source": "neso",
        "g_per_kwh": 300.0,
        "observed_at": None,
        "received_at": NOW_S,
        "fresh_for_s": 600,
    }
    readings = [
        good,
        {**good, "zone": "FR", "g_per_kwh": "NaN"},
        {**good, "zone": "GB", "g_per_kwh": -3},
        {**good, "zone": "IE", "received_at": NOW_S - 30 * 86400},  # too old to reload
        {**good, "zone": "US", "received_at": NOW_S + 86400},  # from the future: kept, but stale
        "not an object",
    ]
    path.write_text(json.dumps({"format": "otel-carbon-intensity", "version": 1, "readings": readings}))
    cache = _cache(FakeClock())
    assert CacheFile(path, clock=FakeClock()).load(cache) == 2
    assert cache.lookup("DE").fallback is False
    assert (cache.lookup("US").g_per_kwh, cache.lookup("US").fallback) == (300.0, True)
    assert cache.lookup("FR").source == "static" and cache.lookup("IE").source == "static"


# --- health metrics -----------------------------------------------------------------------------


def test_health_reports_age_per_zone_and_source() -> None:
    clock = FakeClock()
    cache = _cache(clock)
    reader = InMemoryMetricReader()
    health = IntensityHealth(cache, MeterProvider(metric_readers=[reader]))
    cache.update(_live("DE"), fresh_for_s=600)
    clock.advance(90)
    health.failed("electricitymaps", "timeout")
    health.refreshed("electricitymaps")
    found = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    found[(metric.name, tuple(sorted(point.attributes.items())))] = point.value
    assert (
        found[
            (
                sc.METRIC_INTENSITY_AGE,
                ((sc.SCI_INTENSITY_SOURCE, "electricitymaps.lifecycle"), (sc.SCI_INTENSITY_ZONE, "DE")),
            )
        ]
        == 90.0
    )
    assert (
        found[
            (
                sc.METRIC_INTENSITY_REFRESH_FAILURES,
                ((sc.ERROR_TYPE, "timeout"), (sc.SCI_INTENSITY_PROVIDER, "electricitymaps")),
            )
        ]
        == 1
    )
    assert found[(sc.METRIC_INTENSITY_REFRESHES, ((sc.SCI_INTENSITY_PROVIDER, "electricitymaps"),))] == 1
