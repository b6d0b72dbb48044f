"""Refresh scheduling (TTL, jitter, back-off, Retry-After, budget) and provider protocol details."""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable

import pytest
from intensity_support import (  # noqa: F401 (rig_for_fixture provides the rig_for fixture)
    NOW,
    NOW_S,
    STATIC,
    WT_PASSWORD,
    FakeClock,
    LoopbackServer,
    Reply,
    Rig,
    Seen,
    em_history,
    em_latest,
    neso_fw48h,
    neso_national,
    neso_regional,
    neso_regional_fw48h,
    rig_for_fixture,
    wt_data,
    wt_index,
)

from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.errors import FailureKind, ProviderError
from otel_carbon.intensity.http import HttpClient, parse_retry_after
from otel_carbon.intensity.providers import ElectricityMaps, Location, Neso, Secret
from otel_carbon.intensity.refresh import FORECAST_TTL_S, Refresher, RequestBudget

# --- schedule -----------------------------------------------------------------------


def test_success_is_due_again_after_the_provider_granularity(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("neso")
    rig.refresher.run_once()
    assert rig.refresher.zone_state("GB") == (NOW_S + 1800.0, 0)  # half-hourly data, no jitter


def test_jitter_spreads_the_next_refresh_within_bounds(rig_for: Callable[..., Rig]) -> None:
    dues = set()
    for seed in range(5):
        rig = rig_for("neso", jitter=0.1, rng=random.Random(seed))
        rig.refresher.run_once()
        due_at, _ = rig.refresher.zone_state("GB") or (0.0, 0)
        assert NOW_S + 1620.0 <= due_at <= NOW_S + 1980.0  # 1800 s ± 10 %
        dues.add(due_at)
    assert len(dues) == 5


def test_failures_back_off_exponentially(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("electricitymaps", backoff_base_s=30.0)
    rig.server.route(rig.kit.main, Reply(500, {"message": "down"}))
    waits = []
    for _ in range(4):
        rig.refresher.run_once()
        due_at, _ = rig.refresher.zone_state("DE") or (0.0, 0)
        waits.append(due_at - rig.clock.now)
        rig.clock.now = due_at
    assert waits == [30.0, 60.0, 120.0, 240.0]
    assert rig.failures() == {"server": 4}
    rig.server.route(rig.kit.main, Reply(body=em_latest()))
    rig.refresher.run_once()
    assert rig.refresher.zone_state("DE") == (rig.clock.now + 3600.0, 0)  # success resets the back-off


def test_auth_failures_back_off_to_the_maximum_at_once(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("electricitymaps", backoff_max_s=3600.0)
    rig.server.route(rig.kit.main, Reply(403, {"message": "zone not in plan"}))
    rig.refresher.run_once()
    assert rig.refresher.zone_state("DE") == (NOW_S + 3600.0, 1)


def test_429_retry_after_holds_the_whole_provider(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("electricitymaps")
    rig.cache.watch("FR")
    rig.server.route(rig.kit.main, Reply(429, {"message": "rate limited"}, headers={"Retry-After": "600"}))
    delay = rig.refresher.run_once()
    assert rig.requests_to(r"/v4/carbon-intensity/latest") == 1  # the second zone was not tried
    assert delay == 30.0  # the loop still wakes to maintain freshness
    rig.clock.advance(300)
    rig.refresher.run_once()
    assert rig.requests_to(r"/v4/carbon-intensity/latest") == 1  # still held
    rig.server.route(rig.kit.main, Reply(body=em_latest()))
    rig.clock.advance(301)
    rig.refresher.run_once()
    assert rig.requests_to(r"/v4/carbon-intensity/latest") == 3  # both zones, after 600 s
    assert rig.failures() == {"rate_limited": 1}


def test_retry_after_on_503_sets_the_next_attempt(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("neso", backoff_base_s=30.0)
    rig.server.route(rig.kit.main, Reply(503, None, headers={"Retry-After": "900"}))
    rig.refresher.run_once()
    assert rig.refresher.zone_state("GB") == (NOW_S + 900.0, 1)


def test_retry_after_accepts_an_http_date_measured_on_the_server_clock() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Sun, 22 Nov 2026 14:25:00 GMT", NOW) == 300.0
    assert parse_retry_after("Sun, 22 Nov 2026 14:00:00 GMT", NOW) == 0.0  # already past
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None) is None


def test_request_budget_caps_refreshes_per_hour(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("electricitymaps", budget_per_hour=2, forecast=False)
    rig.cache.watch("FR")
    rig.cache.watch("IE")
    delay = rig.refresher.run_once()
    assert rig.requests_to(r"/v4/carbon-intensity/latest") == 2
    assert rig.failures() == {"budget": 1}
    assert delay == 30.0  # a token comes back after 1800 s; the loop wakes sooner to maintain
    rig.clock.advance(1800)
    rig.refresher.run_once()
    assert rig.requests_to(r"/v4/carbon-intensity/latest") == 3


def test_token_bucket_refills_at_the_hourly_rate() -> None:
    budget = RequestBudget(per_hour=3600, now=0.0, burst=2)  # one token a second
    assert budget.take(0.0) and budget.take(0.0) and not budget.take(0.0)
    assert budget.seconds_until(0.0) == pytest.approx(1.0)
    assert budget.take(1.0) and not budget.take(1.0)


def test_forecasts_are_fetched_at_most_hourly(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("neso")  # half-hourly values, hourly forecasts
    for _ in range(4):
        rig.refresher.run_once()
        rig.clock.advance(1800)
    assert rig.requests_to(r"/intensity") == 4
    assert rig.requests_to(r"/intensity/[^/]+/fw48h") == 2
    assert FORECAST_TTL_S == 3600.0


# --- WattTime ------------------------------------------------------------------------


def test_watttime_logs_in_with_basic_auth_and_reuses_the_token(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("watttime")
    rig.refresher.run_once()
    rig.clock.advance(300)
    rig.refresher.run_once()
    assert rig.requests_to(r"/login") == 1
    login = next(seen for seen in rig.server.requests if seen.path == "/login")
    assert login.headers["authorization"] == "Basic " + base64.b64encode(f"ada:{WT_PASSWORD}".encode()).decode()
    data = [seen for seen in rig.server.requests if seen.path == "/v3/forecast"]
    assert {seen.headers["authorization"] for seen in data} == {"Bearer wt-token-1"}
    assert data[0].query["region"] == ["CAISO_NORTH"] and data[0].query["signal_type"] == ["co2_moer"]
    rig.clock.advance(26 * 60)  # tokens live 30 min; renewed after 25
    rig.refresher.run_once()
    assert rig.requests_to(r"/login") == 2


def test_watttime_renews_the_token_on_401_and_retries_once(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("watttime")
    tokens = iter(["wt-token-1", "wt-token-2"])
    rig.server.route(r"/login", lambda seen: Reply(body={"token": next(tokens)}))

    def data(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != "Bearer wt-token-2":
            return Reply(401, {"message": "token expired"})
        return Reply(body=wt_data((1000.0,)))

    rig.server.route(r"/v3/forecast", data)
    rig.refresher.run_once()
    assert rig.requests_to(r"/login") == 2
    assert rig.cache.lookup("US-CAL-CISO").g_per_kwh == pytest.approx(453.59237)
    assert rig.failures() == {}


@pytest.mark.parametrize(("units", "factor"), [("lbs_co2_per_mwh", 0.45359237), ("kg_co2_per_mwh", 1.0)])
def test_watttime_units_are_converted_to_grams_per_kwh(rig_for: Callable[..., Rig], units: str, factor: float) -> None:
    rig = rig_for("watttime")
    rig.server.route(r"/v3/forecast", Reply(body=wt_data((800.0, 700.0), units=units)))
    rig.refresher.run_once()
    assert rig.cache.lookup("US-CAL-CISO").g_per_kwh == pytest.approx(800.0 * factor)
    forecast = rig.cache.forecast("US-CAL-CISO")
    assert forecast is not None and [p.g_per_kwh for p in forecast.points] == pytest.approx(
        [800 * factor, 700 * factor]
    )


def test_watttime_index_without_a_plan_is_labelled_not_mixed_in(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("watttime")
    rig.server.route(r"/v3/forecast", Reply(403, {"message": "not subscribed to region"}))
    rig.server.route(r"/v3/signal-index", Reply(body=wt_index(70.0)))
    rig.refresher.run_once()
    index = rig.cache.index("US-CAL-CISO")
    assert index is not None and (index.value, index.unit, index.source) == (70.0, "percent", "watttime.co2_moer.index")
    reading = rig.cache.lookup("US-CAL-CISO")
    assert (reading.source, reading.fallback, reading.g_per_kwh) == ("static", True, STATIC.lookup("US").g_per_kwh)
    assert rig.failures() == {}


def test_watttime_percentile_in_a_data_answer_is_an_index_too(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("watttime")
    rig.server.route(r"/v3/forecast", Reply(body=wt_data((55.0,), units="percentile")))
    rig.refresher.run_once()
    assert rig.cache.lookup("US-CAL-CISO").source == "static"
    index = rig.cache.index("US-CAL-CISO")
    assert index is not None and index.value == 55.0


# --- Electricity Maps ------------------------------------------------------------------


def _em(server: LoopbackServer, **options: object) -> tuple[ElectricityMaps, HttpClient]:
    http = HttpClient(0.5)
    return ElectricityMaps(http, Secret("k"), base_url=server.url, **options), http  # type: ignore[arg-type]


def test_electricitymaps_v3_path_and_direct_factors() -> None:
    with LoopbackServer() as server:
        server.route(r"/v3/carbon-intensity/latest", Reply(body=em_latest("FR", 21.0, factor="direct")))
        provider, http = _em(server, version="v3", emission_factor="direct")
        reading, _ = provider.latest(Location("FR"))
        http.close()
    assert (reading.g_per_kwh, reading.source) == (21.0, "electricitymaps.direct")
    assert server.requests[0].query["emissionFactorType"] == ["direct"]


def test_electricitymaps_refuses_a_mixed_factor_answer() -> None:
    with LoopbackServer() as server:
        server.route(r"/v4/carbon-intensity/latest", Reply(body=em_latest("FR", 40.0, factor="lifecycle")))
        provider, http = _em(server, emission_factor="direct")
        with pytest.raises(ProviderError) as failure:
            provider.latest(Location("FR"))
        http.close()
    assert failure.value.kind is FailureKind.PAYLOAD


def test_electricitymaps_by_cloud_region_sends_no_zone() -> None:
    with LoopbackServer() as server:
        server.route(r"/v4/carbon-intensity/latest", Reply(body=em_latest("BE", 150.0)))
        provider, http = _em(server)
        reading, _ = provider.latest(Location("BE", ("gcp", "europe-west1")))
        http.close()
    query = server.requests[0].query
    assert (query["dataCenterProvider"], query["dataCenterRegion"]) == (["gcp"], ["europe-west1"])
    assert "zone" not in query and reading.zone == "BE"


def test_electricitymaps_history_is_oldest_first() -> None:
    with LoopbackServer() as server:
        server.route(r"/v4/carbon-intensity/history", Reply(body=em_history("DE", (320.0, 310.0, 302.0))))
        provider, http = _em(server)
        readings = provider.history(Location("DE"))
        http.close()
    assert [r.g_per_kwh for r in readings] == [320.0, 310.0, 302.0]
    assert readings[0].observed_at is not None and readings[-1].observed_at == NOW.replace(minute=0)


def test_electricitymaps_forecast_failure_on_a_free_plan_keeps_the_latest(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("electricitymaps")
    rig.server.route(r"/v4/carbon-intensity/forecast", Reply(401, {"message": "plan has no forecast"}))
    rig.refresher.run_once()
    assert rig.cache.lookup("DE").fallback is False and rig.cache.forecast("DE") is None
    assert rig.failures() == {"auth": 1}  # counted, but the refresh itself succeeded
    assert rig.refresher.zone_state("DE") == (NOW_S + 3600.0, 0)


@pytest.mark.parametrize("name", ["neso", "carbonaware"])
def test_a_failing_forecast_keeps_the_reading_and_is_retried_hourly(rig_for: Callable[..., Rig], name: str) -> None:
    rig = rig_for(name)
    path = {"neso": r"/intensity/[^/]+/fw48h", "carbonaware": r"/emissions/forecasts/current"}[name]
    rig.server.route(path, Reply(500, {"message": "forecast service down"}))
    rig.refresher.run_once()
    assert rig.cache.lookup(rig.kit.zone).fallback is False
    assert rig.failures() == {"server": 1}
    rig.clock.advance(1800)
    rig.refresher.run_once()  # value refreshed, forecast not retried within the hour
    assert rig.requests_to(path) == 1


# --- NESO regional -----------------------------------------------------------------------


def test_neso_regional_zone() -> None:
    with LoopbackServer() as server:
        server.route(r"/regional/regionid/13", Reply(body=neso_regional(13, 179.0)))
        server.route(
            r"/regional/intensity/[^/]+/fw48h/regionid/13", Reply(body=neso_regional_fw48h(13, (179.0, 160.0)))
        )
        http = HttpClient(0.5)
        provider = Neso(http, base_url=server.url, clock=FakeClock())
        fetched = provider.fetch(Location("GB-NESO-13"), forecast=True)
        http.close()
    assert fetched.reading is not None and fetched.reading.g_per_kwh == 179.0
    assert fetched.forecast is not None and [p.g_per_kwh for p in fetched.forecast.points] == [179.0, 160.0]
    assert server.requests[1].path == "/regional/intensity/2026-11-22T14:20Z/fw48h/regionid/13"
    assert STATIC.lookup("GB-NESO-13").zone == "GB"  # the static table resolves regional zones to GB


def test_neso_serves_great_britain_only() -> None:
    provider = Neso(HttpClient(0.5))
    assert provider.serves(Location("GB")) and provider.serves(Location("gb-neso-17"))
    assert not provider.serves(Location("GB-NESO-18")) and not provider.serves(Location("FR"))


def test_neso_national_prefers_the_actual_over_the_forecast() -> None:
    with LoopbackServer() as server:
        server.route(r"/intensity", Reply(body=neso_national(forecast=200.0, actual=None)))
        server.route(r"/intensity/[^/]+/fw48h", Reply(body=neso_fw48h()))
        http = HttpClient(0.5)
        fetched = Neso(http, base_url=server.url, clock=FakeClock()).fetch(Location("GB"), forecast=False)
        http.close()
    assert fetched.reading is not None and fetched.reading.g_per_kwh == 200.0  # actual not yet published


# --- HTTP client ---------------------------------------------------------------------------


def test_http_client_caps_the_body_and_follows_no_redirect() -> None:
    with LoopbackServer() as server:
        server.route(r"/big", Reply(raw=b"[" + b"1," * 5000 + b"1]"))
        server.route(r"/moved", Reply(302, None, headers={"Location": "http://example.invalid/steal"}))
        http = HttpClient(0.5, max_bytes=1000)
        with pytest.raises(ProviderError) as big:
            http.get_json(server.url + "/big")
        with pytest.raises(ProviderError) as moved:
            http.get_json(server.url + "/moved")
        http.close()
    assert big.value.kind is FailureKind.PAYLOAD
    assert moved.value.kind is FailureKind.CLIENT and moved.value.status == 302
    assert server.paths() == ["/big", "/moved"]


# --- the real thread -----------------------------------------------------------------------


def test_refresh_thread_keeps_the_cache_fresh_and_time_kept() -> None:
    with LoopbackServer() as server:
        server.server_time = NOW
        server.route(r"/intensity", Reply(body=neso_national(186.0, 190.0)))
        server.route(r"/intensity/[^/]+/fw48h", Reply(body=neso_fw48h()))
        clock = FakeClock()  # frozen at NOW: the server's Date agrees
        http = HttpClient(0.5)
        cache = IntensityCache(STATIC, serves=lambda zone: zone == "GB", clock=clock)
        refresher = Refresher(Neso(http, base_url=server.url, clock=clock), cache, clock=clock)
        assert cache.lookup("GB").fallback  # static until the thread has run
        refresher.start()
        deadline = time.monotonic() + 5.0
        while cache.lookup("GB").fallback and time.monotonic() < deadline:
            time.sleep(0.01)
        fresh = cache.lookup("GB")
        refresher.stop()
        http.close()
    assert (fresh.g_per_kwh, fresh.source, fresh.fallback) == (190.0, "neso", False)
    clock.advance(2 * 1800 + 1)  # past 2 × TTL, no thread any more: checked on lookup
    assert cache.lookup("GB").fallback is True
