"""App (standard OTLP/gRPC exporter) → otel-carbon gateway → upstream receiver, over real sockets."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_carbon import semconv as sc
from otel_carbon.collector.gateway import Gateway
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext
from otlp_receiver import OTLPReceiver

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
         "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300}
PLAIN = {"http.request.method": "GET", "url.path": "/health"}
RESOURCE = Resource.create({"service.name": "svc-in-any-language", "cloud.provider": "aws", "cloud.region": "eu-west-1"})


def send(port: int, spans: dict[str, dict]) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
    tracer = provider.get_tracer("app")
    for name, attributes in spans.items():
        tracer.start_span(name, attributes=attributes).end()
    provider.shutdown()


@pytest.fixture
def context():
    return EnrichmentContext(settings=CarbonSettings(zone="FR"))


def test_genai_spans_arrive_enriched_and_others_unchanged(context):
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context) as gateway:
        send(gateway.port, {"chat gpt-4o-mini": GENAI, "GET /health": PLAIN,
                            "already": {**GENAI, "sci.carbon": 1.5}})
        assert gateway.traces.enriched == 1
    spans = dict(upstream.spans)
    assert spans["GET /health"] == PLAIN
    assert spans["already"]["sci.carbon"] == 1.5 and "sci.energy" not in spans["already"]
    # The same numbers as the in-process processor for the same span and resource.
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(CarbonSpanProcessor(SimpleSpanProcessor(memory), context=context))
    provider.get_tracer("app").start_span("chat gpt-4o-mini", attributes=GENAI).end()
    in_process = dict(memory.get_finished_spans()[0].attributes)
    for key in sc.SCI_OUTPUT_KEYS:
        assert spans["chat gpt-4o-mini"].get(key) == in_process.get(key), key


def test_upstream_down_is_a_retryable_error_and_nothing_is_acknowledged(context):
    with OTLPReceiver() as parked:
        dead_port = parked.port  # a port that will be closed when the receiver stops
    with Gateway("127.0.0.1:0", f"127.0.0.1:{dead_port}", context, upstream_timeout_s=0.5) as gateway:
        stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{gateway.port}"))
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(trace_service_pb2.ExportTraceServiceRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_oversized_request_is_rejected_and_the_gateway_keeps_serving(context):
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context) as gateway:
        channel = grpc.insecure_channel(f"127.0.0.1:{gateway.port}", options=[("grpc.max_send_message_length", -1)])
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        big = trace_service_pb2.ExportTraceServiceRequest()
        span = big.resource_spans.add().scope_spans.add().spans.add()
        span.name = "x" * (5 * 1024 * 1024)
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(big, timeout=5)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        send(gateway.port, {"chat gpt-4o-mini": GENAI})
    assert "sci.carbon" in dict(upstream.spans)["chat gpt-4o-mini"]


def test_cli_rejects_a_bad_listen_address(capsys):
    from otel_carbon.cli import main

    assert main(["collector", "--listen", "256.0.0.1:99999", "--upstream", "127.0.0.1:1"]) == 2
    assert "otel-carbon collector: error:" in capsys.readouterr().err
