"""Each live provider against a loopback server speaking its documented JSON, in good and bad weather.

In every failure case the lookup answers, the answer is flagged ``fallback``,
nothing raises out of the refresh pass, and the failure is counted by reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from intensity_support import (  # noqa: F401 (rig_for_fixture provides the rig_for fixture)
    API_KEY,
    KITS,
    NOW,
    STATIC,
    WT_PASSWORD,
    Kit,
    Reply,
    Rig,
    refused_url,
    rig_for_fixture,
)

from otel_carbon.intensity.errors import FailureKind, ProviderError
from otel_carbon.intensity.providers import Location

# --- good weather -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KITS))
def test_live_value_is_served_fresh(rig_for: Callable[..., Rig], name: str) -> None:
    rig = rig_for(name)
    assert rig.cache.lookup(rig.kit.zone).fallback  # before the first refresh: static, flagged
    rig.refresher.run_once()
    reading = rig.cache.lookup(rig.kit.zone)
    assert reading.g_per_kwh == pytest.approx(rig.kit.expected)
    assert reading.fallback is False
    assert reading.source.startswith(name)
    assert reading.observed_at is not None and reading.observed_at <= NOW
    assert rig.failures() == {}


@pytest.mark.parametrize("name", sorted(KITS))
def test_forecast_is_stored_and_used_for_the_best_window(rig_for: Callable[..., Rig], name: str) -> None:
    rig = rig_for(name)
    rig.refresher.run_once()
    forecast = rig.cache.forecast(rig.kit.zone)
    assert forecast is not None and len(forecast.points) >= 2
    lowest = min(forecast.points, key=lambda p: p.g_per_kwh)
    step = lowest.end - lowest.start
    window = rig.cache.best_window(rig.kit.zone, step, forecast.points[-1].end, now=forecast.points[0].start)
    # A one-step job is best placed on the lowest point, at exactly that point's value.
    assert (window.start, window.g_per_kwh, window.fallback) == (lowest.start, lowest.g_per_kwh, False)


EMPTY_FORECASTS = {
    "electricitymaps": (r"/v4/carbon-intensity/forecast", Reply(body={"zone": "DE", "forecast": []})),
    "neso": (r"/intensity/[^/]+/fw48h", Reply(body={"data": []})),
    "carbonaware": (r"/emissions/forecasts/current", Reply(body=[])),
}  # WattTime's current value *is* the first forecast point: its empty case is "empty_data" below


@pytest.mark.parametrize("name", sorted(EMPTY_FORECASTS))
def test_empty_forecast_keeps_the_live_value_and_flags_the_window(rig_for: Callable[..., Rig], name: str) -> None:
    rig = rig_for(name)
    rig.server.route(*EMPTY_FORECASTS[name])
    rig.refresher.run_once()
    assert rig.cache.lookup(rig.kit.zone).fallback is False
    assert rig.cache.forecast(rig.kit.zone) is None
    window = rig.cache.best_window(rig.kit.zone, timedelta(hours=1), NOW + timedelta(hours=6), now=NOW)
    assert window.fallback and window.start == NOW
    assert window.g_per_kwh == pytest.approx(rig.kit.expected)


# --- bad weather ------------------------------------------------------------------

FAILURES: dict[str, tuple[Callable[[Kit], Reply | None], set[str]]] = {
    "timeout": (lambda kit: Reply(body={}, delay_s=1.0), {"timeout"}),
    "connection_refused": (lambda kit: None, {"connection"}),
    "http_401": (lambda kit: Reply(401, {"message": "Invalid token"}), {"auth"}),
    "http_403": (lambda kit: Reply(403, {"message": "plan does not cover this"}), {"auth", "client"}),
    "http_429": (lambda kit: Reply(429, {"message": "slow down"}, headers={"Retry-After": "120"}), {"rate_limited"}),
    "http_500": (lambda kit: Reply(500, {"message": "boom"}), {"server"}),
    "http_503_retry_after": (lambda kit: Reply(503, None, headers={"Retry-After": "90"}), {"server"}),
    "truncated_json": (lambda kit: Reply(raw=kit.good().payload()[:25]), {"payload"}),
    "truncated_transfer": (lambda kit: Reply(raw=kit.good().payload()[:25], length=400), {"connection"}),
    "garbage": (lambda kit: Reply(raw=b"<html><body>502 Bad Gateway</body></html>"), {"payload"}),
    "unexpected_units": (lambda kit: kit.bad_values, {"payload"}),
    "empty_data": (lambda kit: kit.empty, {"payload"}),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("name", sorted(KITS))
def test_every_failure_answers_a_flagged_fallback(rig_for: Callable[..., Rig], name: str, failure: str) -> None:
    make_reply, reasons = FAILURES[failure]
    reply = make_reply(KITS[name])
    rig = rig_for(name, base=refused_url() if reply is None else None, timeout_s=0.2)
    if reply is not None:
        rig.server.route(rig.kit.main, reply)
    rig.refresher.run_once()  # must not raise
    reading = rig.cache.lookup(rig.kit.zone)
    assert reading.fallback is True
    assert reading.source == "static"
    assert reading.g_per_kwh == STATIC.lookup(rig.kit.zone).g_per_kwh
    counted = rig.failures()
    assert set(counted) <= reasons and sum(counted.values()) == 1, counted
    due_at, failures = rig.refresher.zone_state(rig.kit.zone) or (0.0, 0)
    assert failures == 1 and due_at > rig.clock.now


@pytest.mark.parametrize("name", sorted(KITS))
def test_after_success_a_failure_serves_the_last_known_value_flagged(rig_for: Callable[..., Rig], name: str) -> None:
    rig = rig_for(name)
    rig.refresher.run_once()
    rig.server.route(rig.kit.main, Reply(500, {"message": "down"}))
    rig.clock.advance(3 * 3600)  # past every provider's freshness (2 × TTL ≤ 2 h)
    rig.refresher.run_once()
    reading = rig.cache.lookup(rig.kit.zone)
    assert reading.fallback is True
    assert reading.source.startswith(name)
    assert reading.g_per_kwh == pytest.approx(rig.kit.expected)


@pytest.mark.parametrize("name", sorted(KITS))
def test_server_clock_far_ahead_makes_the_reading_stale_at_source(rig_for: Callable[..., Rig], name: str) -> None:
    rig = rig_for(name)
    rig.server.server_time = NOW + timedelta(days=2)  # the data is two days old by the server's clock
    rig.refresher.run_once()
    reading = rig.cache.lookup(rig.kit.zone)
    assert reading.fallback is True and reading.source.startswith(name)
    assert reading.g_per_kwh == pytest.approx(rig.kit.expected)


@pytest.mark.parametrize("name", sorted(KITS))
def test_server_clock_far_behind_rejects_a_reading_from_the_future(rig_for: Callable[..., Rig], name: str) -> None:
    rig = rig_for(name)
    rig.server.server_time = NOW - timedelta(days=2)
    rig.refresher.run_once()
    reading = rig.cache.lookup(rig.kit.zone)
    assert reading.fallback is True and reading.source == "static"
    assert rig.failures() == {"payload": 1}


def test_local_clock_skew_alone_does_not_stale_a_reading(rig_for: Callable[..., Rig]) -> None:
    """Our clock 3 h fast, the server's right: ageing uses the server's Date, so the value is fresh."""
    rig = rig_for("electricitymaps")
    rig.clock.advance(3 * 3600)
    rig.refresher.run_once()
    assert rig.cache.lookup("DE").fallback is False


def test_secrets_never_reach_logs_errors_or_reprs(
    rig_for: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = (API_KEY, WT_PASSWORD, "wt-token-1")
    for name in ("electricitymaps", "watttime"):
        rig = rig_for(name)
        rig.server.route(rig.kit.main, Reply(401, {"message": f"bad key {API_KEY}"}))
        with pytest.raises(ProviderError) as failure:
            rig.refresher.provider.fetch(Location(rig.kit.zone), forecast=False)
        assert failure.value.kind is FailureKind.AUTH and failure.value.status == 401
        rig.refresher.run_once()
        shown = " ".join((str(failure.value), repr(failure.value), repr(rig.refresher.provider), caplog.text))
        assert not any(secret in shown for secret in secrets)


def test_electricitymaps_sends_the_key_as_a_header_and_never_asks_by_ip(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for("electricitymaps")
    rig.refresher.run_once()
    latest = next(seen for seen in rig.server.requests if seen.path.endswith("/latest"))
    assert latest.headers["auth-token"] == API_KEY
    assert API_KEY not in str(latest.query)
    assert latest.query["zone"] == ["DE"] and latest.query["emissionFactorType"] == ["lifecycle"]
    assert latest.query["disableCallerLookup"] == ["true"]
    assert latest.query["shouldUseFallbackCallerLookup"] == ["false"]
