"""CarbonSpanProcessor in the real SDK pipeline: enrichment, pass-through, metrics, safety."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.estimate.inference import TokenUsage
from otel_carbon.footprint import compute_footprint
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext

# Span attributes as each GenAI instrumentation family writes them for the same call.
PEER_SHAPES = {
    "semconv-current (ours, genai-openai 1.3)": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
    },
    "openai-v2 (gen_ai.system)": {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
    },
    "OpenLLMetry (legacy prompt/completion names)": {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.prompt_tokens": 1200,
        "gen_ai.usage.completion_tokens": 300,
        "gen_ai.usage.cache_read_input_tokens": 1024,
        "llm.request.type": "chat",
    },
    "OpenLIT": {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
    },
}
SAME_CALL = TokenUsage(input=1200, output=300, cached_input=1024)


class Pipeline:
    def __init__(
        self,
        settings: CarbonSettings | None = None,
        resource: Resource | None = None,
        context: EnrichmentContext | None = None,
        **provider_kw,
    ):
        self.exporter = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.context = context or EnrichmentContext(settings=settings or CarbonSettings(zone="FR"))
        self.processor = CarbonSpanProcessor(
            SimpleSpanProcessor(self.exporter), context=self.context, meter_provider=self.meter_provider
        )
        self.provider = TracerProvider(resource=resource or Resource.create({}), **provider_kw)
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("test")

    def emit(self, attributes, name="chat gpt-4o-mini"):
        with self.tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
            pass
        return self.exporter.get_finished_spans()[-1]

    def metrics(self):
        data = self.reader.get_metrics_data()
        found = {}
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found[metric.name] = metric
        return found

    def metric_points(self, name):
        """``(attributes, value)`` per data point of metric ``name`` (a histogram's value is its count)."""
        metric = self.metrics().get(name)
        if metric is None:
            return []
        return [(dict(p.attributes), getattr(p, "count", None) if hasattr(p, "bucket_counts") else p.value)
                for p in metric.data.data_points]


@pytest.mark.parametrize("shape", list(PEER_SHAPES))
def test_each_peer_shape_gets_the_same_carbon(shape):
    pipeline = Pipeline()
    span = pipeline.emit(PEER_SHAPES[shape])
    attrs = span.attributes
    expected = compute_footprint(
        provider="openai",
        model="gpt-4o-mini",
        usage=SAME_CALL,
        zone="US",
        settings=pipeline.context.settings,
        catalogue=Catalogue.default(),
        intensity=IntensityCache(),
    )
    assert attrs[sc.SCI_ENERGY_METHOD] == "estimated"
    assert attrs[sc.SCI_MODEL_MATCH] == "exact"
    assert attrs[sc.SCI_CARBON] == pytest.approx(expected.carbon_g.mid)
    assert attrs[sc.SCI_ENERGY] == pytest.approx(expected.energy_j.mid)
    assert attrs[sc.SCI_INTENSITY_ZONE] == expected.intensity.zone
    assert attrs[sc.SCI_ENERGY_LOW] <= attrs[sc.SCI_ENERGY] <= attrs[sc.SCI_ENERGY_HIGH]
    assert attrs[sc.SCI_CARBON] == pytest.approx(attrs[sc.SCI_OPERATIONAL] + attrs[sc.SCI_EMBODIED])
    # Original attributes are all still there.
    for key, value in PEER_SHAPES[shape].items():
        assert attrs[key] == value


def test_layers_add_up_and_energy_converts_to_operational_carbon():
    attrs = Pipeline().emit(PEER_SHAPES["semconv-current (ours, genai-openai 1.3)"]).attributes
    layers = sum(attrs[k] for k in (sc.SCI_ENERGY_ACCELERATOR, sc.SCI_ENERGY_HOST, sc.SCI_ENERGY_IDLE, sc.SCI_ENERGY_OVERHEAD))
    assert layers == pytest.approx(attrs[sc.SCI_ENERGY])
    assert attrs[sc.SCI_OPERATIONAL] == pytest.approx(attrs[sc.SCI_ENERGY] / 3.6e6 * attrs[sc.SCI_INTENSITY])


def test_cost_from_catalogue_prices():
    attrs = Pipeline().emit(PEER_SHAPES["semconv-current (ours, genai-openai 1.3)"]).attributes
    prices = Catalogue.default().find("openai", "gpt-4o-mini").spec.prices
    expected = (176 * prices.input + 1024 * prices.cached_input + 300 * prices.output) / 1e6
    assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(expected)


def test_cost_set_by_the_instrumentation_is_kept():
    shape = dict(PEER_SHAPES["OpenLIT"], **{"gen_ai.usage.cost": 0.5})
    assert Pipeline().emit(shape).attributes[sc.GEN_AI_USAGE_COST] == 0.5


def test_non_genai_span_passes_through_untouched():
    seen = []

    class Recorder(SpanProcessor):
        def on_end(self, span):
            seen.append(span)

    provider = TracerProvider()
    provider.add_span_processor(CarbonSpanProcessor(Recorder(), settings=CarbonSettings()))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /health", attributes={"http.method": "GET"}) as span:
        pass
    assert len(seen) == 1
    assert dict(seen[0].attributes) == {"http.method": "GET"}
    assert seen[0].context.span_id == span.get_span_context().span_id
    assert not any(k.startswith("sci.") for k in seen[0].attributes)


def test_tool_and_agent_spans_are_not_counted_as_inference():
    attrs = Pipeline().emit({"gen_ai.operation.name": "execute_tool", "gen_ai.provider.name": "openai"}).attributes
    assert sc.SCI_CARBON not in attrs


def test_span_that_already_carries_carbon_is_left_alone():
    shape = dict(PEER_SHAPES["OpenLIT"], **{sc.SCI_CARBON: 1.0})
    attrs = Pipeline().emit(shape).attributes
    assert attrs[sc.SCI_CARBON] == 1.0
    assert sc.SCI_ENERGY not in attrs


def test_copy_keeps_every_exported_field():
    pipeline = Pipeline(resource=Resource.create({"service.name": "svc"}), span_limits=SpanLimits(max_attributes=9))
    parent_span = pipeline.tracer.start_span("parent")
    ctx = set_span_in_context(parent_span)
    attrs = dict(PEER_SHAPES["semconv-current (ours, genai-openai 1.3)"], extra1=1, extra2=2, extra3=3)
    span = pipeline.tracer.start_span("chat gpt-4o-mini", context=ctx, kind=SpanKind.CLIENT, attributes=attrs)
    span.add_event("first token", {"n": 1})
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    exported = pipeline.exporter.get_finished_spans()[-1]
    assert exported.name == "chat gpt-4o-mini"
    assert exported.kind is SpanKind.CLIENT
    assert exported.parent.span_id == parent_span.get_span_context().span_id
    assert exported.context.trace_id == parent_span.get_span_context().trace_id
    assert exported.status.status_code is StatusCode.ERROR and exported.status.description == "boom"
    assert [e.name for e in exported.events] == ["first token"]
    assert exported.resource.attributes["service.name"] == "svc"
    assert exported.instrumentation_scope.name == "test"
    assert exported.start_time == span.start_time and exported.end_time == span.end_time
    assert exported.dropped_attributes == 1  # 10 attributes offered, limit 9
    assert sc.SCI_CARBON in exported.attributes


def test_metrics_read_back_with_configured_dimensions_from_attributes_resource_and_baggage():
    settings = CarbonSettings(zone="FR", dimensions=("app.feature", "app.team", "deployment.environment"))
    pipeline = Pipeline(settings=settings, resource=Resource.create({"deployment.environment": "prod"}))
    token = context.attach(baggage.set_baggage("app.team", "search"))
    try:
        attrs = pipeline.emit(dict(PEER_SHAPES["OpenLIT"], **{"app.feature": "summarise"})).attributes
    finally:
        context.detach(token)
    metrics = pipeline.metrics()
    carbon = metrics[sc.METRIC_CARBON].data.data_points[0]
    assert carbon.value == pytest.approx(attrs[sc.SCI_CARBON])
    assert dict(carbon.attributes) == {
        sc.DIM_PROVIDER: "openai",
        sc.DIM_MODEL: "gpt-4o-mini",
        sc.DIM_ZONE: attrs[sc.SCI_INTENSITY_ZONE],
        sc.DIM_METHOD: "estimated",
        "app.feature": "summarise",
        "app.team": "search",
        "deployment.environment": "prod",
    }
    assert metrics[sc.METRIC_ENERGY].data.data_points[0].value == pytest.approx(attrs[sc.SCI_ENERGY])
    histogram = metrics[sc.METRIC_CARBON_PER_REQUEST].data.data_points[0]
    assert histogram.count == 1 and histogram.sum == pytest.approx(attrs[sc.SCI_CARBON])
    gauge = metrics[sc.METRIC_INTENSITY].data.data_points[0]
    assert gauge.value == attrs[sc.SCI_INTENSITY]
    tokens = {dict(p.attributes)[sc.DIM_TOKEN_TYPE]: p.value for p in metrics[sc.METRIC_TOKENS].data.data_points}
    assert tokens == {"input": 1200, "output": 300}
    assert metrics[sc.METRIC_COST].data.data_points[0].value == pytest.approx(attrs[sc.GEN_AI_USAGE_COST])


def test_metrics_accumulate_over_calls():
    pipeline = Pipeline()
    first = pipeline.emit(PEER_SHAPES["OpenLIT"]).attributes[sc.SCI_CARBON]
    second = pipeline.emit(PEER_SHAPES["OpenLIT"]).attributes[sc.SCI_CARBON]
    assert pipeline.metrics()[sc.METRIC_CARBON].data.data_points[0].value == pytest.approx(first + second)


def test_metrics_can_be_disabled():
    pipeline = Pipeline(settings=CarbonSettings(metrics=False))
    assert sc.SCI_CARBON in pipeline.emit(PEER_SHAPES["OpenLIT"]).attributes
    assert pipeline.metrics() == {}


def test_enrichment_failure_exports_the_span_unchanged_and_logs_once(caplog):
    class BrokenIntensity:
        def lookup(self, zone):
            raise RuntimeError("provider exploded")

    pipeline = Pipeline(context=EnrichmentContext(settings=CarbonSettings(), intensity=BrokenIntensity()))
    with caplog.at_level(logging.WARNING, logger="otel_carbon.processors.span_processor"):
        first = pipeline.emit(PEER_SHAPES["OpenLIT"])
        second = pipeline.emit(PEER_SHAPES["OpenLIT"])
    assert sc.SCI_CARBON not in first.attributes and sc.SCI_CARBON not in second.attributes
    assert dict(first.attributes) == PEER_SHAPES["OpenLIT"]
    assert len([r for r in caplog.records if "could not enrich" in r.message]) <= 1


@pytest.mark.parametrize(
    "tokens",
    [{"gen_ai.usage.input_tokens": "lots"}, {"gen_ai.usage.output_tokens": -5},
     {"gen_ai.usage.output_tokens": float("nan")}, {"gen_ai.usage.input_tokens": 1e308},
     {"gen_ai.usage.input_tokens": -(2**63), "gen_ai.usage.output_tokens": 2**63 - 1},
     {"gen_ai.usage.output_tokens": True}],
)
def test_unusable_token_counts_are_flagged_not_counted(tokens):
    pipeline = Pipeline()
    attrs = pipeline.emit(dict(PEER_SHAPES["OpenLIT"], **tokens)).attributes
    assert sc.SCI_CARBON not in attrs and sc.GEN_AI_USAGE_COST not in attrs
    assert attrs[sc.SCI_COUNTED] is False
    assert attrs[sc.SCI_CARBON_STATUS] == sc.STATUS_INVALID_USAGE
    assert pipeline.metric_points(sc.METRIC_UNCOUNTED) == [({sc.SCI_CARBON_STATUS: "invalid_usage"}, 1)]
    assert pipeline.metric_points(sc.METRIC_CARBON_PER_REQUEST) == []


def test_a_span_without_usage_is_flagged_never_zero():
    shape = {k: v for k, v in PEER_SHAPES["OpenLIT"].items() if "usage" not in k}
    attrs = Pipeline().emit(shape).attributes
    assert sc.SCI_CARBON not in attrs
    assert attrs[sc.SCI_CARBON_STATUS] == sc.STATUS_NO_USAGE and attrs[sc.SCI_COUNTED] is False


def test_raw_anthropic_input_that_excludes_cache_tokens_is_made_whole():
    # Anthropic's API reports input_tokens without cache reads/writes; the conventions include them.
    raw = {"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
           "gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 100,
           "gen_ai.usage.cache_read_input_tokens": 4000, "gen_ai.usage.cache_creation_input_tokens": 1000}
    whole = dict(raw, **{"gen_ai.usage.input_tokens": 5050})
    assert Pipeline().emit(raw).attributes[sc.SCI_ENERGY] == pytest.approx(Pipeline().emit(whole).attributes[sc.SCI_ENERGY])


def test_force_flush_and_shutdown_forward_to_the_export_processor():
    calls = []

    class Inner(SpanProcessor):
        def force_flush(self, timeout_millis=30000):
            calls.append(("flush", timeout_millis))
            return True

        def shutdown(self):
            calls.append(("shutdown",))

    processor = CarbonSpanProcessor(Inner(), settings=CarbonSettings())
    assert processor.force_flush(5) is True
    processor.shutdown()
    assert calls == [("flush", 5), ("shutdown",)]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.3.4.5", "::1", "[::1]"])
def test_a_loopback_server_is_local_work_in_this_zone_at_this_site(host):
    settings = CarbonSettings(zone="SE", local_pue=1.0, local_idle_share=0.0)
    call = {"gen_ai.provider.name": "ollama", "gen_ai.request.model": "llama3.1:8b", "server.address": host,
            "gen_ai.usage.input_tokens": 600, "gen_ai.usage.output_tokens": 200}
    attrs = Pipeline(settings=settings).emit(call).attributes
    assert attrs[sc.SCI_INTENSITY_ZONE] == "SE"
    assert attrs[sc.SCI_ENERGY_OVERHEAD] == 0.0 and attrs[sc.SCI_ENERGY_IDLE] == 0.0  # site PUE 1.0, no idle share
    assert sc.GEN_AI_USAGE_COST not in attrs  # no API bill for a model on this machine


def test_remote_call_uses_the_provider_serving_zone_and_pue():
    call = {"gen_ai.provider.name": "mistral_ai", "gen_ai.request.model": "mistral-large-latest",
            "server.address": "api.mistral.ai", "gen_ai.usage.input_tokens": 600, "gen_ai.usage.output_tokens": 200}
    attrs = Pipeline(settings=CarbonSettings(zone="DE")).emit(call).attributes
    provider = Catalogue.default().provider("mistral_ai")
    assert attrs[sc.SCI_INTENSITY_ZONE] == provider.serving_zone
    it = attrs[sc.SCI_ENERGY_ACCELERATOR] + attrs[sc.SCI_ENERGY_HOST] + attrs[sc.SCI_ENERGY_IDLE]
    assert attrs[sc.SCI_ENERGY_OVERHEAD] == pytest.approx(it * (provider.pue - 1))


def test_provider_zone_setting_overrides_the_catalogue():
    call = dict(PEER_SHAPES["OpenLIT"])
    attrs = Pipeline(settings=CarbonSettings(provider_zones={"openai": "FR"})).emit(call).attributes
    assert attrs[sc.SCI_INTENSITY_ZONE] == "FR"


def test_measured_window_on_the_span_wins_over_estimation():
    call = dict(PEER_SHAPES["OpenLIT"], **{sc.SCI_MEASURED_ACCELERATOR: 90.0, sc.SCI_MEASURED_HOST: 30.0,
                                          sc.SCI_MEASURED_DURATION: 2.0, sc.SCI_MEASURED_DEVICES: ["gpu0"]})
    settings = CarbonSettings(zone="FR", local_pue=1.5, local_idle_share=0.0)
    attrs = Pipeline(settings=settings).emit(call).attributes
    assert attrs[sc.SCI_ENERGY_METHOD] == "measured"
    assert attrs[sc.SCI_ENERGY_ACCELERATOR] == 90.0 and attrs[sc.SCI_ENERGY_HOST] == 30.0
    assert attrs[sc.SCI_ENERGY] == pytest.approx((90 + 30) * 1.5)
    assert attrs[sc.SCI_INTENSITY_ZONE] == "FR"
    assert sc.SCI_MODEL_MATCH not in attrs


def test_metric_series_beyond_the_cap_are_summed_under_overflow():
    from otel_carbon.processors.metrics import CarbonMetrics

    reader = InMemoryMetricReader()
    metrics = CarbonMetrics(MeterProvider(metric_readers=[reader]), max_series=2)
    carbon = {sc.SCI_CARBON: 1.0, sc.SCI_ENERGY: 10.0, sc.SCI_INTENSITY: 50.0,
              sc.SCI_INTENSITY_ZONE: "FR", sc.SCI_INTENSITY_SOURCE: "static"}
    for team in ("a", "b", "c", "d"):
        metrics.record(carbon, TokenUsage(input=1, output=1), {"app.team": team})
    points = {
        tuple(sorted(p.attributes.items())): p.value
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == sc.METRIC_CARBON
        for p in m.data.data_points
    }
    assert points == {(("app.team", "a"),): 1.0, (("app.team", "b"),): 1.0, (("otel.metric.overflow", True),): 2.0}


def test_in_process_provider_without_a_measurement_is_still_local_work():
    settings = CarbonSettings(zone="SE", local_pue=1.0)
    call = {"gen_ai.provider.name": "transformers", "gen_ai.request.model": "gpt2",
            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20}
    attrs = Pipeline(settings=settings).emit(call).attributes
    assert attrs[sc.SCI_INTENSITY_ZONE] == "SE"
    assert attrs[sc.SCI_ENERGY_OVERHEAD] == 0.0
    assert sc.GEN_AI_USAGE_COST not in attrs
