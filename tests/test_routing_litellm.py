"""The real ``litellm.Router`` with our strategy: real requests reach the chosen loopback "region".

Three OpenAI-compatible loopback servers stand in for three Azure regions; the
intensities come from a loopback Electricity Maps (``routing_support``).
"""

from __future__ import annotations

import asyncio
import copy
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map from the network

import pytest  # noqa: E402

# LiteLLM is not in the test extra: its releases installable here pin openai<3 (.ci/run installs it beside openai 3).
litellm = pytest.importorskip("litellm", reason="litellm is not installed (pip install 'otel-carbon[routing]')")
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from routing_support import SETTINGS, live_grid  # noqa: E402

from otel_carbon import semconv as sc  # noqa: E402
from otel_carbon.cli.demo_server import LLMServer  # noqa: E402
from otel_carbon.routing import Constraints, NoDeploymentError  # noqa: E402
from otel_carbon.routing.litellm_strategy import CarbonRoutingStrategy, deployment_of, estimate_tokens  # noqa: E402
from otel_carbon.routing.record import Recorder  # noqa: E402

API_KEY = "sk-routing-test-secret"
MESSAGES = [{"role": "user", "content": "Summarise the grid mix of the Nordic countries. " * 20}]
REGIONS = {  # deployment id → (region, p95 ms)
    "sweden": ("azure:swedencentral", 1400),
    "france": ("azure:francecentral", 1000),
    "virginia": ("azure:eastus", 600),
}


@pytest.fixture(autouse=True)
def _litellm_prices():
    """A Router given per-token prices registers them in LiteLLM's process-wide cost map: put it back."""
    saved = copy.deepcopy(litellm.model_cost)
    yield
    litellm.model_cost.clear()
    litellm.model_cost.update(saved)


@pytest.fixture
def regions():
    servers = {name: LLMServer() for name in REGIONS}
    for server in servers.values():
        server.__enter__()
    with live_grid() as grid:
        yield servers, grid
    for server in servers.values():
        server.__exit__(None, None, None)


def build_router(servers, grid, constraints=None, recorder=None):
    model_list = [
        {
            "model_name": "assistant",
            "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": servers[name].url, "api_key": API_KEY,
                               "input_cost_per_token": 0.15e-6, "output_cost_per_token": 0.60e-6},
            "model_info": {"id": name, "region": region, "p95_ms": p95},
        }
        for name, (region, p95) in REGIONS.items()
    ]
    router = litellm.Router(model_list=model_list, num_retries=0, timeout=5.0)
    strategy = CarbonRoutingStrategy(router, intensity=grid.cache, settings=SETTINGS, constraints=constraints,
                                     recorder=recorder).install()
    return router, strategy


def hits(servers):
    return {name: len(server.requests) for name, server in servers.items()}


def test_requests_go_to_the_cleanest_region(regions) -> None:
    servers, grid = regions
    router, _ = build_router(servers, grid)
    response = router.completion(model="assistant", messages=MESSAGES, max_tokens=50)
    assert response.choices[0].message.content
    assert hits(servers) == {"sweden": 1, "france": 0, "virginia": 0}
    assert servers["sweden"].requests[0][2]["model"] == "gpt-4o-mini"


def test_latency_limit_sends_them_to_the_compliant_region_async(regions) -> None:
    servers, grid = regions
    router, _ = build_router(servers, grid, Constraints.of(max_latency_ms=1100))
    asyncio.run(router.acompletion(model="assistant", messages=MESSAGES))
    assert hits(servers) == {"sweden": 0, "france": 1, "virginia": 0}


def test_per_request_residency_from_metadata(regions) -> None:
    servers, grid = regions
    router, _ = build_router(servers, grid)
    router.completion(model="assistant", messages=MESSAGES, metadata={"carbon": {"allowed_regions": ["US"]}})
    assert hits(servers) == {"sweden": 0, "france": 0, "virginia": 1}
    with pytest.raises(NoDeploymentError, match="allowed_regions excludes"):
        router.completion(model="assistant", messages=MESSAGES, metadata={"carbon": {"allowed_regions": ["JP"]}})
    assert sum(hits(servers).values()) == 1  # nothing sent outside the allowed regions


def test_decision_on_the_callers_span(regions) -> None:
    servers, grid = regions
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    router, _ = build_router(servers, grid, Constraints.of(max_latency_ms=1100),
                             Recorder(MeterProvider(metric_readers=[reader])))
    with tracer.get_tracer("app").start_as_current_span("answer"):
        router.completion(model="assistant", messages=MESSAGES, max_tokens=50)
    attrs = exporter.get_finished_spans()[0].attributes
    assert attrs[sc.SCI_ROUTING_CHOSEN] == "france"
    assert attrs[sc.SCI_ROUTING_COST_CHOICE] == "virginia"  # same price, faster
    assert attrs[sc.SCI_ROUTING_SAVED] > 0
    assert API_KEY not in repr(dict(attrs))


def test_observed_latencies_replace_the_configured_p95(regions) -> None:
    servers, grid = regions
    router, strategy = build_router(servers, grid)
    assert strategy.latency_ms("sweden") == 1400.0
    for _ in range(20):  # LATENCY_MIN_SAMPLES calls, all to the cleanest region
        router.completion(model="assistant", messages=MESSAGES, max_tokens=5)
    assert hits(servers)["sweden"] == 20
    observed = strategy.latency_ms("sweden")
    for _ in range(100):  # LiteLLM runs sync success callbacks on a background thread
        if observed != 1400.0:
            break
        time.sleep(0.05)
        observed = strategy.latency_ms("sweden")
    assert observed is not None and observed < 1400.0  # loopback answers are far faster


def test_model_list_entries_and_token_estimates() -> None:
    deployment = deployment_of({
        "model_name": "g",
        "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_location": "europe-west1"},
        "model_info": {"id": "belgium"},
    })
    assert (deployment.name, deployment.provider, deployment.model, deployment.region) == (
        "belgium", "gcp.vertex_ai", "gemini-2.5-flash", "gcp:europe-west1")
    bedrock = deployment_of({"model_name": "g", "litellm_params": {
        "model": "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0", "aws_region_name": "eu-north-1"}})
    assert (bedrock.provider, bedrock.region) == ("aws.bedrock", "aws:eu-north-1")
    assert estimate_tokens([{"role": "user", "content": "x" * 400}], None, {"max_tokens": 64}, 256) == (100, 64)
    assert estimate_tokens(None, ["abcd"] * 3, None, 256) == (3, 256)
