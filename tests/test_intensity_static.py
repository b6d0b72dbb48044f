"""The shipped static table, zone fallback, cloud regions and the cache's fallback flags."""

from __future__ import annotations

import pytest

from otel_carbon.intensity import IntensityCache, IntensityReading, StaticIntensity, zone_for_region
from otel_carbon.intensity.zones import cloud_regions, parse_region

TABLE = {"WORLD": 470.0, "US": 380.0, "US-CAL-CISO": 220.0, "FR": 50.0}


def test_exact_zone_is_not_a_fallback():
    reading = StaticIntensity(TABLE).lookup("FR")
    assert (reading.zone, reading.g_per_kwh, reading.fallback) == ("FR", 50.0, False)


def test_sub_zone_falls_back_to_its_parent_then_world():
    static = StaticIntensity(TABLE)
    assert static.lookup("us-cal-ciso").g_per_kwh == 220.0
    coarser = static.lookup("US-MIDA-PJM")
    assert (coarser.zone, coarser.g_per_kwh, coarser.fallback) == ("US", 380.0, True)
    unknown = static.lookup("ATLANTIS")
    assert (unknown.zone, unknown.g_per_kwh, unknown.fallback) == ("WORLD", 470.0, True)


def test_table_needs_a_world_row():
    with pytest.raises(ValueError):
        StaticIntensity({"FR": 50.0})


def test_shipped_table_is_plausible():
    static = StaticIntensity.shipped()
    assert 300 <= static.lookup("WORLD").g_per_kwh <= 600
    assert static.lookup("FR").g_per_kwh < 120  # nuclear + hydro
    assert static.lookup("SE").g_per_kwh < 100
    assert static.lookup("PL").g_per_kwh > 450  # coal
    assert len(list(static.zones())) > 150


def test_every_cloud_region_resolves_to_a_zone_in_the_static_table():
    static = StaticIntensity.shipped()
    regions = cloud_regions()
    assert len(regions) >= 60
    assert {r.provider for r in regions.values()} == {"aws", "gcp", "azure"}
    for region in regions.values():
        assert region.country in static, region
        reading = static.lookup(region.zone)
        assert reading.zone != "WORLD", region


def test_well_known_regions():
    assert zone_for_region("aws", "eu-west-1") == "IE"
    assert zone_for_region("gcp", "europe-west1") == "BE"
    assert zone_for_region("google", "europe-west1") == "BE"  # alias of the provider value
    assert zone_for_region("aws", "mars-1") is None


def test_parse_region():
    assert parse_region("aws:eu-west-1") == ("aws", "eu-west-1")
    for bad in ("aws", ":eu", "aws:"):
        with pytest.raises(ValueError):
            parse_region(bad)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_cache_serves_fresh_then_stale_readings_flagged():
    clock = Clock()
    cache = IntensityCache(StaticIntensity(TABLE), max_age_s=600, live=True, clock=clock)
    live = IntensityReading("FR", 31.0, "live-test")
    cache.update(live)
    assert cache.lookup("fr") == live
    clock.now += 601
    stale = cache.lookup("FR")
    assert (stale.g_per_kwh, stale.fallback) == (31.0, True)


def test_cache_without_live_value_answers_from_static():
    static_only = IntensityCache(StaticIntensity(TABLE))
    assert static_only.lookup("FR").fallback is False  # static is the configured source
    expecting_live = IntensityCache(StaticIntensity(TABLE), live=True)
    reading = expecting_live.lookup("FR")
    assert (reading.g_per_kwh, reading.source, reading.fallback) == (50.0, "static", True)
