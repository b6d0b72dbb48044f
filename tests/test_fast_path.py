"""The enrichment fast path changes speed, not numbers.

The oracle is the straightforward computation: place the call, resolve its zone,
``compute_footprint`` from scratch, write the attributes with ``footprint_attributes``.
``enrich`` (plans and per-reading attributes memoised, the arithmetic without
intermediate objects) must give exactly the same attributes, bit for bit, on cache
misses and hits, across intensity refreshes, for the spans the suite uses and for
property-generated ones; the gateway's wire encoding of them must decode to the same, and so must the
gateway's costing of a request's calls together (numpy columns).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from test_processor import PEER_SHAPES

from otel_carbon import semconv as sc
from otel_carbon.collector.columns import MIN_CALLS
from otel_carbon.collector.otlp import MARKER_BYTES
from otel_carbon.collector.wire import attributes_wire
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.footprint import compute_footprint, resolve_zone
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.intensity.zones import zone_for_region
from otel_carbon.locality import place_call
from otel_carbon.processors.enrich import (
    EnrichmentContext,
    InvalidUsage,
    enrich,
    footprint_attributes,
    measured_energy,
    provider_and_model,
    token_usage,
    uncounted,
)
from otel_carbon.sci import Boundary, FunctionalUnit


def straightforward(attributes: dict[str, Any], resource: dict[str, Any], context: EnrichmentContext) -> dict:
    """The attributes enrichment must give, computed from scratch for this one span."""
    settings, catalogue = context.settings, context.catalogue
    provider, model = provider_and_model(attributes)
    try:
        usage = token_usage(attributes)
        measured = measured_energy(attributes)
    except InvalidUsage:
        return uncounted(sc.STATUS_INVALID_USAGE).attributes
    placement = place_call(provider, model, attributes.get(sc.SERVER_ADDRESS), attributes.get(sc.SERVER_PORT),
                           catalogue=catalogue, local_endpoints=settings.local_endpoints)
    if placement.proxied:
        measured = None
    if measured is None and usage.input == 0 and usage.output == 0:
        return uncounted(sc.STATUS_NO_USAGE).attributes
    local = placement.local or measured is not None
    region = (resource.get(sc.CLOUD_PROVIDER), resource.get(sc.CLOUD_REGION))
    resource_zone = zone_for_region(str(region[0]), str(region[1])) if all(region) else None
    zone = resolve_zone(settings, catalogue, placement.provider, local=local, resource_zone=resource_zone)
    footprint = compute_footprint(provider=placement.provider, model=model, usage=usage, zone=zone, settings=settings,
                                  catalogue=catalogue, intensity=context.intensity, measured=measured, local=local)
    out = footprint_attributes(footprint)
    floats = [v for v in out.values() if type(v) is float]
    if not (math.isfinite(sum(floats)) and min(floats) >= 0.0):
        return uncounted(sc.STATUS_INVALID_USAGE).attributes
    if placement.proxied:
        out[sc.SCI_PROXIED] = True
    if sc.GEN_AI_USAGE_COST in attributes:
        out.pop(sc.GEN_AI_USAGE_COST, None)
    out[sc.SCI_COUNTED] = True
    return out


def assert_identical(fast: dict, oracle: dict) -> None:
    assert fast.keys() == oracle.keys()
    for key, value in oracle.items():
        assert type(fast[key]) is type(value), key
        assert fast[key] == value, key  # floats: equal to the last bit


def decoded(attributes: dict, shared: Any = None) -> dict[str, Any]:
    """What the gateway appends to a span for ``attributes``, read back (key → ``AnyValue``; keys unique)."""
    span = Span(name="x")
    span.MergeFromString(attributes_wire(attributes, shared))
    by_key = {kv.key: kv.value for kv in span.attributes}
    assert len(by_key) == len(span.attributes)
    return by_key


# Spans shaped as the suite's instrumentations and peers write them, and the cases enrichment distinguishes.
SUITE_SPANS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    **{name: (shape, {}) for name, shape in PEER_SHAPES.items()},
    "anthropic cache write": ({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                               "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 40,
                               "gen_ai.usage.cache_creation.input_tokens": 2000,
                               "gen_ai.usage.cache_read.input_tokens": 500, "gen_ai.usage.output_tokens": 90}, {}),
    "reasoning beside output": ({"gen_ai.provider.name": "openai", "gen_ai.request.model": "o3-mini",
                                 "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
                                 "gen_ai.usage.reasoning.output_tokens": 800}, {}),
    "own cost kept": ({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                       "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 10,
                       sc.GEN_AI_USAGE_COST: 0.5}, {}),
    "ollama on loopback": ({"gen_ai.provider.name": "ollama", "gen_ai.request.model": "llama3.2:1b",
                            "server.address": "127.0.0.1", "server.port": 11434,
                            "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 60}, {}),
    "hosted model behind a loopback proxy": ({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                                              "server.address": "127.0.0.1", "server.port": 4000,
                                              "sci.measured.accelerator": 12.5, "sci.measured.duration": 0.4,
                                              "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 60}, {}),
    "measured on two GPUs": ({"gen_ai.provider.name": "vllm", "gen_ai.request.model": "Qwen/Qwen2.5-0.5B",
                              "sci.measured.accelerator": 41.0, "sci.measured.host": 9.5,
                              "sci.measured.duration": 1.25, "sci.measured.devices": ("0", "1"),
                              "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 64}, {}),
    "unknown model in a cloud region": ({"gen_ai.provider.name": "acme", "gen_ai.request.model": "acme-large",
                                         "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 50},
                                        {"cloud.provider": "aws", "cloud.region": "eu-west-3"}),
    "no usage": ({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}, {}),
    "negative tokens": ({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                         "gen_ai.usage.input_tokens": -1}, {}),
}

CONTEXTS = [
    EnrichmentContext(settings=CarbonSettings()),
    EnrichmentContext(settings=CarbonSettings(zone="FR", boundary=Boundary.ACCELERATOR)),
    EnrichmentContext(settings=CarbonSettings(functional_unit=FunctionalUnit.KILO_TOKENS, record_cost=False,
                                              local_pue=1.3, local_idle_share=0.2, lifespan_years=6.0)),
    EnrichmentContext(settings=CarbonSettings(provider_zones={"openai": "SE"}, local_endpoints=("127.0.0.1:4000",))),
]


@pytest.mark.parametrize("name", list(SUITE_SPANS))
@pytest.mark.parametrize("context", CONTEXTS, ids=["default", "accelerator-FR", "1k-tokens", "zones"])
def test_suite_spans_get_exactly_the_straightforward_values(name, context):
    attributes, resource = SUITE_SPANS[name]
    oracle = straightforward(attributes, resource, context)
    first, again = enrich(attributes, resource, context), enrich(attributes, resource, context)  # miss, then hit
    assert_identical(first.attributes, oracle)
    assert_identical(again.attributes, oracle)
    assert decoded(again.attributes, again.shared) == decoded(oracle)


def test_a_new_intensity_reading_is_used_at_once():
    intensity = IntensityCache()
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"), intensity=intensity)
    attributes = {"gen_ai.provider.name": "ollama", "gen_ai.request.model": "llama3.2:1b",
                  "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 60}
    before = enrich(attributes, {}, context).attributes
    observed = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)
    intensity.update(IntensityReading("FR", 123.0, "live.test", observed_at=observed), fresh_for_s=3600)
    after = enrich(attributes, {}, context).attributes
    assert before[sc.SCI_INTENSITY] != 123.0
    assert after[sc.SCI_INTENSITY] == 123.0 and after[sc.SCI_INTENSITY_SOURCE] == "live.test"
    assert after[sc.SCI_INTENSITY_OBSERVED_AT] == observed.isoformat()
    assert_identical(after, straightforward(attributes, {}, context))


_CATALOGUE = Catalogue.default()
_PROVIDERS = sorted(_CATALOGUE.providers) + sorted(sc.LOCAL_PROVIDERS) + ["acme"]
_MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4o-2024-08-06", "o3-mini", "claude-sonnet-4-5", "claude-3-5-haiku-latest",
           "gemini-2.5-flash", "mistral-large-latest", "command-r-plus", "llama3.2:1b", "Qwen/Qwen2.5-0.5B", "acme-large"]
_TOKENS = st.integers(0, 3_000_000)
_COUNT = st.one_of(_TOKENS, _TOKENS, _TOKENS, _TOKENS, st.just(0), st.floats(0, 1e6), st.sampled_from(["12", "x", -3, True]))
_J = st.floats(0, 5e4)
_JOULES = st.one_of(_J, _J, _J, _J, st.just(0.0), st.sampled_from([-1.0, 2e9, "7"]))


@st.composite
def spans(draw) -> tuple[dict[str, Any], dict[str, Any]]:
    attributes: dict[str, Any] = {draw(st.sampled_from(sc.PROVIDER_KEYS)): draw(st.sampled_from(_PROVIDERS))}
    if draw(st.booleans()):
        attributes[draw(st.sampled_from(sc.MODEL_KEYS))] = draw(st.sampled_from(_MODELS))
    for keys in (sc.INPUT_TOKEN_KEYS, sc.OUTPUT_TOKEN_KEYS, sc.CACHE_READ_KEYS, sc.CACHE_WRITE_KEYS, sc.REASONING_KEYS):
        if draw(st.integers(0, 2)):
            attributes[draw(st.sampled_from(keys))] = draw(_COUNT)
    if draw(st.booleans()):
        attributes[sc.SCI_MEASURED_ACCELERATOR] = draw(_JOULES)
        attributes[sc.SCI_MEASURED_DURATION] = draw(st.floats(0, 100))
        if draw(st.booleans()):
            attributes[sc.SCI_MEASURED_HOST] = draw(_JOULES)
        if draw(st.booleans()):
            attributes[sc.SCI_MEASURED_DEVICES] = tuple(str(i) for i in range(draw(st.integers(0, 8))))
    address = draw(st.sampled_from([None, "127.0.0.1", "localhost", "10.1.2.3", "api.openai.com"]))
    if address is not None:
        attributes[sc.SERVER_ADDRESS] = address
        attributes[sc.SERVER_PORT] = draw(st.sampled_from([443, 4000, 8000, 11434]))
    if draw(st.integers(0, 4)) == 0:
        attributes[sc.GEN_AI_USAGE_COST] = draw(st.floats(0, 10))
    resource = draw(st.sampled_from([{}, {"cloud.provider": "gcp", "cloud.region": "europe-west1"},
                                     {"cloud.provider": "aws", "cloud.region": "us-east-1"}]))
    return attributes, resource


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(span=spans(), context=st.sampled_from(CONTEXTS))
def test_random_spans_get_exactly_the_straightforward_values(span, context):
    attributes, resource = span
    result = enrich(attributes, resource, context)
    oracle = straightforward(attributes, resource, context)
    assert_identical(result.attributes, oracle)
    assert decoded(result.attributes, result.shared) == decoded(oracle)


def test_every_genai_marker_key_holds_the_marker_bytes():
    """The gateway skips spans whose encoding lacks ``MARKER_BYTES``: no marker key may lack it."""
    assert all(MARKER_BYTES in key.encode() for key in sc.GENAI_MARKER_KEYS)


class _Recorder:
    """An accountant that keeps what it is given (the gateway's ``CarbonAccountant`` seam)."""

    def __init__(self) -> None:
        self.results: dict[int, dict[str, Any]] = {}

    def record(self, result, attributes, resource, trace_id, span_id, end_time_ns=None) -> None:
        self.results[span_id] = result.attributes

    def record_duplicate(self) -> None:
        raise AssertionError("no span of these requests is a duplicate")


def _request_body(calls: list[dict[str, Any]], resource: dict[str, Any]) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    from otel_carbon.collector.wire import any_value

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in resource.items())
    scope = resource_spans.scope_spans.add()
    for index, attributes in enumerate(calls, start=1):
        span = scope.spans.add(name=f"chat {index}", trace_id=bytes(15) + b"\x01", span_id=index.to_bytes(8, "big"))
        span.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in attributes.items())
    return request.SerializeToString()


@st.composite
def requests(draw) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Calls of one request: many sharing a plan (costed together), some with other counts or measured."""
    base, resource = draw(spans())
    base = {k: v for k, v in base.items() if "usage" not in k or k == sc.GEN_AI_USAGE_COST}
    calls = []
    for _ in range(draw(st.integers(MIN_CALLS, 3 * MIN_CALLS))):
        call = dict(base)
        for keys in (sc.INPUT_TOKEN_KEYS, sc.OUTPUT_TOKEN_KEYS, sc.CACHE_READ_KEYS, sc.CACHE_WRITE_KEYS,
                     sc.REASONING_KEYS):
            if draw(st.integers(0, 3)):
                call[keys[0]] = draw(_COUNT)
        calls.append(call)
    calls.extend(draw(spans())[0] for _ in range(draw(st.integers(0, 3))))
    return calls, resource


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(), context=st.sampled_from(CONTEXTS))
def test_calls_costed_together_at_the_gateway_get_exactly_the_straightforward_values(request, context):
    """The gateway costs a request's calls sharing a plan as numpy columns: same values, same bytes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from otel_carbon.collector.otlp import enrich_body
    from otel_carbon.processors.nesting import CallNests

    calls, resource = request
    recorder = _Recorder()
    enriched = enrich_body(_request_body(calls, resource), context, recorder, CallNests())  # type: ignore[arg-type]
    spans_out = ExportTraceServiceRequest.FromString(enriched.body).resource_spans[0].scope_spans[0].spans
    assert len(spans_out) == len(calls)
    counted = 0
    for index, (attributes, span) in enumerate(zip(calls, spans_out), start=1):
        oracle = straightforward(attributes, resource, context)
        counted += oracle.get(sc.SCI_COUNTED) is True
        added = {kv.key: kv.value for kv in span.attributes[len(attributes):]}
        assert added == decoded(oracle), span.name
        assert_identical(recorder.results[index], oracle)
    assert enriched.counted == counted
