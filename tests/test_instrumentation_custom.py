"""``model_call``: a user traces an SDK we do not cover, and its calls are counted like ours."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.instrumentations.custom import model_call
from otel_carbon.instrumentations.openai import OpenAIInstrumentor
from otel_carbon.processors import CarbonSpanProcessor


class Pipeline:
    def __init__(self, **provider_kw) -> None:
        self.exporter = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.provider = TracerProvider(**provider_kw)
        self.provider.add_span_processor(CarbonSpanProcessor(
            SimpleSpanProcessor(self.exporter), settings=CarbonSettings(zone="FR"),
            meter_provider=MeterProvider(metric_readers=[self.reader])))

    def requests(self) -> int:
        data = self.reader.get_metrics_data()
        return sum(p.count for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics
                   for m in sm.metrics if m.name == sc.METRIC_CARBON_PER_REQUEST for p in m.data.data_points)


def test_a_custom_call_is_a_counted_genai_span():
    pipeline = Pipeline()
    with model_call("mistral_ai", "mistral-large", server_address="api.mistral.ai",
                    tracer_provider=pipeline.provider) as call:
        call.record(input_tokens=800, output_tokens=120, response_model="mistral-large-2411", response_id="r1")
    (span,) = pipeline.exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == "chat mistral-large"
    assert span.instrumentation_scope.schema_url == sc.SCHEMA_URL
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "mistral_ai" and attrs[sc.GEN_AI_RESPONSE_MODEL] == "mistral-large-2411"
    assert attrs[sc.SCI_COUNTED] is True and attrs[sc.SCI_CARBON] > 0 and attrs[sc.SCI_ENERGY_METHOD] == "estimated"
    assert pipeline.requests() == 1


def test_a_sampled_out_custom_call_is_still_counted():
    pipeline = Pipeline(sampler=ALWAYS_OFF)
    with model_call("openai", "gpt-4o", server_address="api.openai.com", tracer_provider=pipeline.provider) as call:
        call.record(input_tokens=100, output_tokens=10)
    assert pipeline.exporter.get_finished_spans() == ()
    assert pipeline.requests() == 1


def test_an_error_is_recorded_and_reraised():
    pipeline = Pipeline()
    with pytest.raises(TimeoutError), \
            model_call("openai", "gpt-4o", server_address="api.openai.com", tracer_provider=pipeline.provider):
        raise TimeoutError("slow")
    (span,) = pipeline.exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.attributes[sc.ERROR_TYPE] == "TimeoutError"
    assert span.attributes[sc.SCI_CARBON_STATUS] == sc.STATUS_NO_USAGE  # nothing reported: flagged, not 0
    assert pipeline.requests() == 0


def test_our_instrumentation_inside_a_custom_call_adds_no_second_count(llm_server):
    pipeline = Pipeline()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=pipeline.provider)
    try:
        client = openai.OpenAI(base_url=llm_server.url, api_key="sk-x", max_retries=0)
        with model_call("openai", "gpt-4o-mini", server_address="api.openai.com",
                        tracer_provider=pipeline.provider) as call:
            result = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            call.record(input_tokens=result.usage.prompt_tokens, output_tokens=result.usage.completion_tokens)
    finally:
        instrumentor.uninstrument()
    (span,) = pipeline.exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "otel_carbon.instrumentations.custom.call"
    assert pipeline.requests() == 1
