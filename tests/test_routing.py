"""The router core: carbon decides within the constraints, residency always holds, stale intensity falls back.

Intensities come from a loopback Electricity Maps through the real provider
client, refresher and cache (``routing_support.live_grid``).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from routing_support import LIVE, SETTINGS, STATIC, live_grid

from otel_carbon import semconv as sc
from otel_carbon.routing import (
    CarbonRouter,
    Constraints,
    DeploymentError,
    NoDeploymentError,
    deployments_from_list,
    load_deployments,
)
from otel_carbon.routing.clients import pick
from otel_carbon.routing.record import Recorder
from otel_carbon.routing.router import DEFAULT_MAX_INTENSITY_AGE_S

# Same model in four Azure regions: Sweden is cleanest but slowest, Virginia cheapest and fastest.
FLEET = [
    {"name": "sweden", "provider": "azure.ai.openai", "model": "gpt-4o-mini", "region": "azure:swedencentral",
     "input_price_per_mtok": 0.165, "output_price_per_mtok": 0.66, "p95_ms": 1400, "quality": 2},
    {"name": "france", "provider": "azure.ai.openai", "model": "gpt-4o-mini", "region": "azure:francecentral",
     "input_price_per_mtok": 0.165, "output_price_per_mtok": 0.66, "p95_ms": 1000, "quality": 1},
    {"name": "poland", "provider": "azure.ai.openai", "model": "gpt-4o-mini", "region": "azure:polandcentral",
     "input_price_per_mtok": 0.15, "output_price_per_mtok": 0.60, "p95_ms": 800, "quality": 2},
    {"name": "virginia", "provider": "azure.ai.openai", "model": "gpt-4o-mini", "region": "azure:eastus",
     "input_price_per_mtok": 0.15, "output_price_per_mtok": 0.60, "p95_ms": 600, "quality": 2},
]


@pytest.fixture
def grid():
    with live_grid() as grid:
        yield grid


def router(grid, entries=FLEET, **options) -> CarbonRouter:
    return CarbonRouter(deployments_from_list(entries), intensity=grid.cache, settings=SETTINGS,
                        clock=grid.clock, **options)


def test_cleaner_region_wins_when_latency_and_cost_allow(grid) -> None:
    decision = router(grid).choose(1000, 300, Constraints.of(max_latency_ms=2000, max_cost_usd=0.01))
    assert decision.chosen.name == "sweden"
    assert decision.chosen.intensity.g_per_kwh == LIVE["SE-SE3"] and not decision.intensity_fallback
    assert decision.cost_choice.name == "virginia"  # cheapest, then fastest
    assert decision.saved_g == pytest.approx(decision.cost_choice.carbon_g - decision.chosen.carbon_g)
    assert decision.saved_g > 0 and decision.cost_delta_usd == pytest.approx((1000 * 0.015 + 300 * 0.06) / 1e6)
    carbons = [c.carbon_g for c in decision.candidates]
    assert carbons == sorted(carbons) and [c.name for c in decision.candidates][-1] == "poland"


def test_the_compliant_region_when_latency_or_cost_rule_the_cleaner_out(grid) -> None:
    by_latency = router(grid).choose(1000, 300, Constraints.of(max_latency_ms=1000))
    assert by_latency.chosen.name == "france"
    assert {(e.name, e.constraint) for e in by_latency.excluded} == {("sweden", "max_latency_ms")}
    cheap = (1000 * 0.15 + 300 * 0.60) / 1e6
    by_cost = router(grid).choose(1000, 300, Constraints.of(max_cost_usd=cheap))
    assert by_cost.chosen.name == "virginia"  # cleaner than Poland at the same price
    assert {e.constraint for e in by_cost.excluded} == {"max_cost_usd"}
    by_quality = router(grid).choose(1000, 300, Constraints.of(min_quality=2, max_latency_ms=900))
    assert by_quality.chosen.name == "virginia"


def test_data_residency_always_holds(grid) -> None:
    carbon = router(grid)
    options = ["EU", "SE", "PL", "US", "FR", "US-MIDA-PJM", "azure:polandcentral", "DE"]
    for size in (1, 2):
        for allowed in itertools.combinations(options, size):
            for latency in (None, 700, 900, 5000):
                limits = Constraints.of(allowed_regions=allowed, max_latency_ms=latency)
                try:
                    decision = carbon.choose(500, 100, limits)
                except NoDeploymentError as exc:
                    assert "no deployment meets the constraints" in str(exc)
                    continue
                for candidate in decision.candidates:
                    d = candidate.deployment
                    assert any(
                        a == d.region or a == d.zone or a == d.country or (a == "EU" and d.country in {"SE", "FR", "PL"})
                        for a in allowed
                    ), (allowed, d.name)


def test_no_deployment_names_each_constraint(grid) -> None:
    with pytest.raises(NoDeploymentError) as caught:
        router(grid).choose(1000, 300, Constraints.of(allowed_regions=["EU"], max_latency_ms=700))
    message = str(caught.value)
    assert "allowed_regions excludes virginia" in message
    assert "max_latency_ms excludes sweden (p95 1400 ms > 700 ms)" in message


def test_stale_live_intensity_falls_back_to_the_annual_average(grid) -> None:
    carbon = router(grid)
    fresh = carbon.choose(1000, 300)
    assert fresh.chosen.intensity.g_per_kwh == LIVE["SE-SE3"] and not fresh.intensity_fallback
    grid.clock.advance(DEFAULT_MAX_INTENSITY_AGE_S + 3600)  # no refresh since: every reading is old
    stale = carbon.choose(1000, 300)
    assert stale.intensity_fallback
    assert {c.deployment.zone: c.intensity.g_per_kwh for c in stale.candidates} == {
        "SE-SE3": STATIC.lookup("SE-SE3").g_per_kwh,
        "FR": STATIC.lookup("FR").g_per_kwh,
        "PL": STATIC.lookup("PL").g_per_kwh,
        "US-MIDA-PJM": STATIC.lookup("US-MIDA-PJM").g_per_kwh,
    }
    assert all(c.intensity.source == "static" and c.intensity.fallback for c in stale.candidates)


def test_a_zone_the_provider_cannot_serve_falls_back(grid) -> None:
    entries = [*FLEET[:1], {"name": "ireland", "provider": "aws.bedrock", "model": "claude-3-5-haiku",
                            "region": "aws:eu-west-1", "p95_ms": 500}]
    with live_grid({"SE-SE3": 18.0}) as partial:
        decision = router(partial, entries).choose(800, 200)
    by_name = {c.name: c for c in decision.candidates}
    assert by_name["sweden"].intensity.fallback is False
    assert by_name["ireland"].intensity.fallback and by_name["ireland"].intensity.g_per_kwh == STATIC.lookup("IE").g_per_kwh
    assert decision.intensity_fallback


def test_ties_keep_the_cost_only_choice(grid) -> None:
    twins = [
        {**FLEET[0], "name": "sweden-a", "input_price_per_mtok": 0.20, "output_price_per_mtok": 0.80},
        {**FLEET[0], "name": "sweden-b"},
    ]
    decision = router(grid, twins).choose(1000, 300)
    assert decision.chosen.name == decision.cost_choice.name == "sweden-b"
    assert decision.saved_g == 0.0


def test_observed_latency_overrides_the_configured_p95(grid) -> None:
    carbon = router(grid)
    for _ in range(30):
        carbon.observe_latency("sweden", 650.0)
    assert carbon.choose(1000, 300, Constraints.of(max_latency_ms=700)).chosen.name == "sweden"


def test_decision_recorded_on_the_current_span_and_in_metrics(grid) -> None:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    recorder = Recorder(MeterProvider(metric_readers=[reader]))
    with tracer.get_tracer("test").start_as_current_span("request"):
        decision = pick(router(grid), input_tokens=1000, output_tokens=300,
                        constraints=Constraints.of(max_latency_ms=1200), recorder=recorder)
    attrs = exporter.get_finished_spans()[0].attributes
    assert attrs[sc.SCI_ROUTING_CHOSEN] == "france" and attrs[sc.SCI_ROUTING_ZONE] == "FR"
    assert attrs[sc.SCI_ROUTING_CANDIDATES] == ("france", "virginia", "poland")
    assert attrs[sc.SCI_ROUTING_EXCLUDED] == ("sweden:max_latency_ms",)
    assert attrs[sc.SCI_ROUTING_COST_CHOICE] == "virginia"
    assert attrs[sc.SCI_ROUTING_SAVED] == pytest.approx(decision.saved_g) and decision.saved_g > 0
    assert attrs[sc.SCI_ROUTING_CARBON] == pytest.approx(decision.chosen.carbon_g)
    assert attrs[sc.SCI_ROUTING_INTENSITY_FALLBACK] is False
    points = {
        m.name: [(dict(p.attributes), p.value) for p in m.data.data_points]
        for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    dims = {sc.DIM_ZONE: "FR", sc.DIM_MODEL: "gpt-4o-mini"}
    assert points[sc.METRIC_ROUTING_SAVED] == [(dims, pytest.approx(decision.saved_g))]
    assert points[sc.METRIC_ROUTING_DECISIONS] == [(dims, 1)]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "non-empty list"),
        ([{"name": "a", "provider": "openai", "model": "m"}], "exactly one of region"),
        ([{"name": "a", "provider": "openai", "model": "m", "region": "azure:atlantis"}], "unknown cloud region"),
        ([{"name": "a", "provider": "openai", "model": "m", "zone": "FR", "p95_ms": "fast"}], "p95_ms must be"),
        ([{"name": "a", "provider": "openai", "model": "m", "zone": "FR", "input_price_per_mtok": 1}], "both"),
        ([{"name": "a", "provider": "openai", "model": "m", "zone": "FR", "colour": "green"}], "unknown field"),
        ([{"name": "a", "provider": "openai", "model": "m", "zone": "FR"}] * 2, "appears twice"),
    ],
)
def test_bad_deployment_descriptions_are_named(entries, message) -> None:
    with pytest.raises(DeploymentError, match=message):
        deployments_from_list(entries)


def test_deployments_file_yaml(tmp_path: Path) -> None:
    path = tmp_path / "deployments.yaml"
    path.write_text("- name: fr\n  provider: openai\n  model: gpt-4o-mini\n  zone: fr\n  p95_ms: 900\n")
    (deployment,) = load_deployments(path)
    assert (deployment.zone, deployment.country, deployment.p95_ms, deployment.prices) == ("FR", "FR", 900.0, None)
    path.write_text("- name: [unclosed\n")
    with pytest.raises(DeploymentError, match="not valid YAML at line"):
        load_deployments(path)
