"""One model call, one carbon figure: whatever instruments it, however many processors, in-process and at the gateway."""

from __future__ import annotations

import math

import anthropic
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context
from otlp_receiver import OTLPReceiver

from otel_carbon import semconv as sc
from otel_carbon.collector.gateway import Gateway
from otel_carbon.config import CarbonSettings
from otel_carbon.instrumentations.anthropic import AnthropicInstrumentor
from otel_carbon.instrumentations.openai import OpenAIInstrumentor
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext
from otel_carbon.processors.accountant import CarbonAccountant

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
         "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 150}


class Metrics:
    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def points(self, name: str) -> list:
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        return list(metric.data.data_points)
        return []

    def requests(self) -> int:
        return sum(p.count for p in self.points(sc.METRIC_CARBON_PER_REQUEST))

    def carbon(self) -> float:
        return sum(p.value for p in self.points(sc.METRIC_CARBON))


@pytest.fixture
def metrics():
    return Metrics()


def counted(spans):
    return [s for s in spans if s.attributes.get(sc.SCI_COUNTED) is True]


def test_anthropic_sdk_tracing_beside_ours_counts_once(llm_server, metrics):
    """anthropic ≥ 2.15 opens its own GenAI span (``com.anthropic.sdk.python``) inside our wrapper."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CarbonSpanProcessor(
        SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR"), meter_provider=metrics.provider))
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = anthropic.Anthropic(base_url=llm_server.url.removesuffix("/v1"), api_key="sk-ant", max_retries=0,
                                     open_telemetry={"tracer_provider": provider})
        client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    scopes = {s.instrumentation_scope.name for s in spans}
    assert "com.anthropic.sdk.python" in scopes, scopes  # the SDK's own span is really there
    (ours,) = counted(spans)
    assert ours.instrumentation_scope.name.startswith("otel_carbon.instrumentations")
    others = [s for s in spans if s is not ours and sc.GEN_AI_PROVIDER_NAME in s.attributes]
    assert others and all(s.attributes[sc.SCI_CARBON_STATUS] == sc.STATUS_DUPLICATE for s in others)
    assert all(sc.SCI_CARBON not in s.attributes for s in others)
    assert metrics.requests() == 1
    assert metrics.carbon() == pytest.approx(ours.attributes[sc.SCI_CARBON])


def test_two_wrapped_exporters_in_one_provider_count_once(llm_server, metrics):
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    for exporter in (first, second):
        provider.add_span_processor(CarbonSpanProcessor(
            SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR"), meter_provider=metrics.provider))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=llm_server.url, api_key="sk-x", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        # a peer-shaped span too: counted by the processors, once
        provider.get_tracer("peer").start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=GENAI).end()
    finally:
        instrumentor.uninstrument()
    for exporter in (first, second):
        assert len(counted(exporter.get_finished_spans())) == 2  # both exporters get the same decorated spans
    assert metrics.requests() == 2


def test_nested_peer_spans_in_process_count_the_innermost(metrics):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CarbonSpanProcessor(
        SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR"), meter_provider=metrics.provider))
    tracer = provider.get_tracer("peer")
    outer = tracer.start_span("litellm completion", attributes={**GENAI, "gen_ai.provider.name": "openai"})
    for _ in range(2):  # a retry: two model calls under one outer call
        tracer.start_span("chat gpt-4o-mini", context=set_span_in_context(outer), attributes=GENAI).end()
    outer.end()
    spans = {s.context.span_id: s for s in exporter.get_finished_spans()}
    assert spans[outer.get_span_context().span_id].attributes[sc.SCI_CARBON_STATUS] == sc.STATUS_DUPLICATE
    assert len(counted(spans.values())) == 2 and metrics.requests() == 2


# --- the gateway: the same rule on OTLP batches -------------------------------------------------


def nested_spans(upstream_counted: bool = False):
    """An outer and an inner GenAI span of one call, as two finished SDK spans (inner ends first)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("peer")
    outer_attrs = {**GENAI, sc.SCI_COUNTED: True, sc.SCI_CARBON: 0.01} if upstream_counted else GENAI
    outer = tracer.start_span("outer", attributes=outer_attrs)
    tracer.start_span("inner", context=set_span_in_context(outer), attributes=GENAI).end()
    outer.end()
    inner_span, outer_span = exporter.get_finished_spans()
    return inner_span, outer_span


def export(port: int, *spans) -> None:
    OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True).export(list(spans))


@pytest.mark.parametrize("batches", [
    "one batch", "inner first, two batches", "outer first, two batches"])
def test_gateway_counts_nested_spans_of_one_call_once(batches):
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    inner, outer = nested_spans()
    with OTLPReceiver() as upstream, \
            Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, export_metrics_s=3600) as gateway:
            if batches == "one batch":
                export(gateway.port, outer, inner)
            elif batches == "inner first, two batches":
                export(gateway.port, inner)
                export(gateway.port, outer)
            else:
                export(gateway.port, outer)
                export(gateway.port, inner)
            assert gateway.traces.enriched == 1
    spans = dict(upstream.spans)
    assert [name for name, attrs in spans.items() if attrs.get(sc.SCI_COUNTED) is True] == (
        ["outer"] if batches == "outer first, two batches" else ["inner"])
    duplicate = spans["inner" if batches == "outer first, two batches" else "outer"]
    assert duplicate[sc.SCI_CARBON_STATUS] == sc.STATUS_DUPLICATE and sc.SCI_CARBON not in duplicate


def test_gateway_leaves_spans_counted_upstream_and_marks_their_nested_peers():
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    inner, outer = nested_spans(upstream_counted=True)
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context) as gateway:
            export(gateway.port, inner, outer)
            export(gateway.port, inner)  # a retried export: still not counted
            assert gateway.traces.enriched == 0
    spans = [attrs for name, attrs in upstream.spans if name == "inner"]
    assert all(attrs[sc.SCI_CARBON_STATUS] == sc.STATUS_DUPLICATE for attrs in spans) and len(spans) == 2


def test_a_retried_export_is_counted_once_by_the_gateway():
    metrics = Metrics()
    accountant = CarbonAccountant(EnrichmentContext(settings=CarbonSettings(zone="FR")), meter_provider=metrics.provider)
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from otel_carbon.collector.otlp import enrich_body
    from otel_carbon.processors.nesting import CallNests

    inner, _ = nested_spans()
    nests = CallNests()
    for _ in range(2):
        enrich_body(encode_spans([inner]).SerializeToString(), accountant.context, accountant, nests)
    assert metrics.requests() == 1


def test_claiming_a_batch_judges_and_counts_span_by_span_under_one_lock():
    """``CallNests.claim`` gives the answers of ``is_duplicate`` + ``mark_counted`` taken in turn."""
    from otel_carbon.processors.nesting import CallNests

    def span_by_span(spans, batches):
        nests = CallNests()
        answers = []
        for batch in batches:
            nests.note_all([(1, span, parent, False) for span, parent, _ in (spans[i] for i in batch)])
            for span, _, countable in (spans[i] for i in batch):
                duplicate = nests.is_duplicate(1, span)
                if countable and not duplicate:
                    nests.mark_counted(1, span)
                answers.append(duplicate)
        return answers

    def claimed(spans, batches):
        nests = CallNests()
        answers = []
        for batch in batches:
            nests.note_all([(1, span, parent, False) for span, parent, _ in (spans[i] for i in batch)])
            answers += nests.claim([((1, span), countable) for span, _, countable in (spans[i] for i in batch)])
        return answers

    # (span, parent, countable): an outer call (10) with its inner one (11); a wrapper without usage (20)
    # whose inner call (21) comes in a later batch; a call repeated in one batch (30).
    spans = [(10, 0, True), (11, 10, True), (20, 0, False), (21, 20, True), (30, 0, True), (30, 0, True)]
    for batches in ([[0, 1, 2, 4, 5], [3]], [[1, 0], [2], [3, 4, 5]], [[0], [1], [2, 3, 4, 5]]):
        assert claimed(spans, batches) == span_by_span(spans, batches), batches
    assert claimed(spans, [[0], [1]]) == [False, True]  # the outer span came first: the inner one duplicates it
    nests = CallNests()
    nests.note_all([(1, 20, 0, False)])
    nests.claim([((1, 20), True)])
    nests.unmark_counted([(1, 20)])  # claimed, then not counted after all (a non-finite value)
    nests.note_all([(1, 21, 20, False)])
    assert nests.claim([((1, 21), True)]) == [False]  # so its inner call still counts


# --- bounds: nothing non-finite or negative leaves, whatever the token values ---------------------

TOKEN_VALUES = st.one_of(
    st.none(), st.integers(-(2**64), 2**64), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.booleans(),
)
TOKEN_KEYS = (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
              sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
              sc.SCI_MEASURED_ACCELERATOR, sc.SCI_MEASURED_HOST)
_PIPELINE: dict = {}


def pipeline():
    if not _PIPELINE:
        metrics = Metrics()
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(CarbonSpanProcessor(
            SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR"), meter_provider=metrics.provider))
        _PIPELINE.update(metrics=metrics, exporter=exporter, tracer=provider.get_tracer("peer"))
    return _PIPELINE


def _finite_and_non_negative(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    return math.isfinite(value) and value >= 0


@settings(max_examples=300, deadline=None)
@given(tokens=st.dictionaries(st.sampled_from(TOKEN_KEYS), TOKEN_VALUES, max_size=len(TOKEN_KEYS)))
def test_no_attribute_or_metric_is_ever_non_finite_or_negative(tokens):
    parts = pipeline()
    attributes = {**{k: v for k, v in GENAI.items() if "usage" not in k},
                  **{k: v for k, v in tokens.items() if v is not None}}
    parts["tracer"].start_span("chat", attributes=attributes).end()
    span = parts["exporter"].get_finished_spans()[-1]
    written = {k: v for k, v in span.attributes.items()
               if (k.startswith("sci.") or k == sc.GEN_AI_USAGE_COST) and k not in attributes}
    assert sc.SCI_COUNTED in written
    assert all(_finite_and_non_negative(v) for v in written.values()), written
    if written[sc.SCI_COUNTED]:
        assert written[sc.SCI_CARBON] > 0
    for name in (sc.METRIC_CARBON, sc.METRIC_ENERGY, sc.METRIC_COST, sc.METRIC_TOKENS):
        assert all(_finite_and_non_negative(p.value) for p in parts["metrics"].points(name)), name
    assert all(_finite_and_non_negative(p.sum) for p in parts["metrics"].points(sc.METRIC_CARBON_PER_REQUEST))


@pytest.mark.parametrize("count_enriched", [False, True])
def test_gateway_counts_spans_enriched_upstream_only_when_asked(count_enriched):
    """Default: an app with its own otel-carbon exports its own carbon metrics, so the gateway does not count
    its spans again; ``--count-enriched`` is for apps that export spans only."""
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    metrics = Metrics()
    from otel_carbon.processors.enrich import enrich

    app = InMemorySpanExporter()  # the app's own otel-carbon wrote the carbon (another process in real life)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app))
    enriched = {**GENAI, **enrich(GENAI, {}, context).attributes}
    provider.get_tracer("otel_carbon.instrumentations.openai").start_span("chat", attributes=enriched).end()
    (span,) = app.get_finished_spans()
    assert span.attributes[sc.SCI_COUNTED] is True
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from otel_carbon.collector.otlp import enrich_body
    from otel_carbon.processors.nesting import CallNests

    accountant = CarbonAccountant(context, meter_provider=metrics.provider)
    for _ in range(2):  # a retried export is still one call
        enrich_body(encode_spans([span]).SerializeToString(), context, accountant, CallNests(),
                    count_enriched=count_enriched)
    assert metrics.requests() == (1 if count_enriched else 0)
    if count_enriched:
        assert metrics.carbon() == pytest.approx(span.attributes[sc.SCI_CARBON])
