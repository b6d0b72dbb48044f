"""The time-shifting Python API: plans from a loopback Electricity Maps forecast, a waiting call, a decorator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from intensity_support import API_KEY, HOUR, NOW, NOW_S, FakeClock, LoopbackServer, Reply, em_forecast, em_latest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_carbon import semconv as sc
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.providers import ElectricityMaps, Secret
from otel_carbon.intensity.refresh import Refresher
from otel_carbon.intensity.zones import Location
from otel_carbon.routing import deferrable, plan_start, wait_for_cleanest

FORECAST = (300.0, 280.0, 90.0, 260.0, 310.0)  # hourly from HOUR + 1 h: the dip is HOUR + 3 h


@pytest.fixture
def cache():
    with LoopbackServer() as server:
        server.route(r"/v4/carbon-intensity/latest", Reply(body=em_latest("DE", 320.0)))
        server.route(r"/v4/carbon-intensity/forecast", Reply(body=em_forecast("DE", FORECAST)))
        http = HttpClient(1.0)
        clock = FakeClock(NOW_S)
        cache = IntensityCache(serves=lambda zone: True, priority=["electricitymaps"], clock=clock)
        provider = ElectricityMaps(http, Secret(API_KEY), base_url=server.url, version="v4")
        assert Refresher(provider, cache, clock=clock, jitter=0.0).refresh(Location("DE"))
        yield cache
        http.close()


def test_plan_starts_at_the_dip_and_says_what_starting_now_would_cost(cache) -> None:
    plan = plan_start(cache, "DE", within=timedelta(hours=8), duration=timedelta(hours=1), now=NOW)
    assert plan.start == HOUR + timedelta(hours=3) and plan.expected_g_per_kwh == 90.0
    assert plan.delay_s == (plan.start - NOW).total_seconds() and not plan.fallback
    assert plan.now_g_per_kwh is None  # the forecast starts at the next hour: "now" is not covered
    short = plan_start(cache, "DE", within=timedelta(hours=2), duration=timedelta(hours=1), now=NOW)
    assert short.start == HOUR + timedelta(hours=1)  # the dip lies past the deadline


def test_no_forecast_starts_now_flagged_fallback() -> None:
    plan = plan_start(IntensityCache(), "FR", within=timedelta(hours=8), now=NOW)
    assert (plan.start, plan.delay_s, plan.fallback, plan.duration_s) == (NOW, 0.0, True, 3600.0)
    assert plan.now_g_per_kwh == plan.expected_g_per_kwh
    with pytest.raises(ValueError, match="fit within"):
        plan_start(IntensityCache(), "FR", within=timedelta(minutes=30), duration=timedelta(hours=1), now=NOW)


def test_the_waiting_call_and_the_decorator_sleep_until_the_dip(cache) -> None:
    exporter = InMemorySpanExporter()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    slept: list[float] = []
    with tracer.get_tracer("job").start_as_current_span("nightly-embeddings"):
        plan = wait_for_cleanest(zone="de", within=timedelta(hours=8), cache=cache, sleep=slept.append,
                                 clock=lambda: NOW_S)
    assert slept == [plan.delay_s] and plan.start == HOUR + timedelta(hours=3)
    attrs = exporter.get_finished_spans()[0].attributes
    assert attrs[sc.SCI_SHIFT_DELAY] == plan.delay_s and attrs[sc.SCI_SHIFT_EXPECTED_INTENSITY] == 90.0
    assert attrs[sc.SCI_SHIFT_ZONE] == "DE" and attrs[sc.SCI_SHIFT_FALLBACK] is False

    @deferrable(region="gcp:europe-west3", within=timedelta(hours=8), cache=cache, sleep=slept.append,
                clock=lambda: NOW_S)
    def regenerate(batch: int) -> str:
        return f"batch {batch} done"

    assert regenerate(3) == "batch 3 done" and slept == [plan.delay_s, plan.delay_s]
    with pytest.raises(ValueError, match="exactly one"):
        deferrable(within=timedelta(hours=1))
