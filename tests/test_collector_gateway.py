"""App (standard OTLP/gRPC exporter) → otel-carbon gateway → upstream receiver, over real sockets."""

from __future__ import annotations

import json

import grpc
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver import OTLPReceiver

from otel_carbon import semconv as sc
from otel_carbon.collector.gateway import Gateway
from otel_carbon.collector.payload import JSON, PROTOBUF, decode
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext

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
    written = [key for key in in_process if key.startswith("sci.") or key == sc.GEN_AI_USAGE_COST]
    assert sc.SCI_CARBON in written
    for key in written:
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


# --- OTLP/HTTP ---------------------------------------------------------------------------


def http_gateway(upstream_port: int, context: EnrichmentContext) -> Gateway:
    return Gateway("127.0.0.1:0", f"127.0.0.1:{upstream_port}", context, http_listen=("127.0.0.1", 0))


def test_otlp_http_protobuf_from_the_standard_exporter(context):
    with OTLPReceiver() as upstream, http_gateway(upstream.port, context) as gateway:
        provider = TracerProvider(resource=RESOURCE)
        exporter = HTTPSpanExporter(endpoint=f"http://127.0.0.1:{gateway.http.port}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider.get_tracer("app").start_span("chat gpt-4o-mini", attributes=GENAI).end()
        provider.get_tracer("app").start_span("GET /health", attributes=PLAIN).end()
        provider.shutdown()
    spans = dict(upstream.spans)
    assert spans["chat gpt-4o-mini"]["sci.carbon"] > 0
    assert spans["GET /health"] == PLAIN


def otlp_json_body(name: str, attributes: dict) -> bytes:
    values = [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
              for k, v in attributes.items()]
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": name,
        "kind": 3, "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000",
        "attributes": values}]}]}]}).encode()


def test_otlp_http_json_and_rejections_are_counted_while_serving_continues(context):
    with OTLPReceiver() as upstream, http_gateway(upstream.port, context) as gateway:
        url = f"http://127.0.0.1:{gateway.http.port}"
        ok = httpx.post(f"{url}/v1/traces", content=otlp_json_body("chat gpt-4o-mini", GENAI),
                        headers={"content-type": "application/json"})
        assert ok.status_code == 200
        wrong_type = httpx.post(f"{url}/v1/traces", content=b"x", headers={"content-type": "text/plain"})
        garbage = httpx.post(f"{url}/v1/traces", content=b"\xff\x00garbage",
                             headers={"content-type": "application/x-protobuf"})
        bad_json = httpx.post(f"{url}/v1/traces", content=b"{not json", headers={"content-type": "application/json"})
        huge = httpx.post(f"{url}/v1/traces", content=b"\x00" * (5 * 1024 * 1024),
                          headers={"content-type": "application/x-protobuf"})
        assert (wrong_type.status_code, garbage.status_code, bad_json.status_code, huge.status_code) == (415, 400, 400, 413)
        again = httpx.post(f"{url}/v1/traces", content=otlp_json_body("chat again", GENAI),
                           headers={"content-type": "application/json"})
        assert again.status_code == 200
        assert gateway.http.rejected.by_reason == {"content_type": 1, "malformed": 2, "too_large": 1}
    spans = dict(upstream.spans)
    assert spans["chat gpt-4o-mini"]["sci.carbon"] > 0 and "chat again" in spans


def test_otlp_http_upstream_down_is_503_with_retry_after(context):
    with OTLPReceiver() as parked:
        dead_port = parked.port
    gateway = Gateway("127.0.0.1:0", f"127.0.0.1:{dead_port}", context, http_listen=("127.0.0.1", 0),
                      upstream_timeout_s=0.5)
    with gateway:
        response = httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces",
                              content=otlp_json_body("chat gpt-4o-mini", GENAI), headers={"content-type": "application/json"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=512), content_type=st.sampled_from([PROTOBUF, JSON]))
def test_decoding_arbitrary_bytes_either_parses_or_is_a_clean_rejection(body, content_type):
    try:
        decode(body, content_type, trace_service_pb2.ExportTraceServiceRequest)
    except ValueError:
        pass  # answered 400 and counted by the receiver


GENAI_KEYS = ["gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.operation.name",
              "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
              "sci.measured.accelerator", "sci.measured.devices", "server.address"]
VALUES = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True), st.text(max_size=20), st.booleans(),
                   st.lists(st.text(max_size=5), max_size=3))


@settings(max_examples=300, deadline=None)
@given(attributes=st.dictionaries(st.sampled_from(GENAI_KEYS), VALUES, max_size=len(GENAI_KEYS)))
def test_enrichment_of_garbage_genai_attributes_never_raises(attributes):
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    from otel_carbon.collector.otlp import enrich_body
    from otel_carbon.collector.wire import any_value

    request = trace_service_pb2.ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in attributes.items())
    enriched = enrich_body(request.SerializeToString(), EnrichmentContext(settings=CarbonSettings(zone="FR")))
    trace_service_pb2.ExportTraceServiceRequest.FromString(enriched.body)  # still a valid request


def test_health_and_readiness(context):
    with OTLPReceiver() as upstream, http_gateway(upstream.port, context) as gateway:
        url = f"http://127.0.0.1:{gateway.http.port}"
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/readyz").json() == {"ready": True}
    with OTLPReceiver() as parked:
        dead_port = parked.port
    with http_gateway(dead_port, context) as gateway:
        url = f"http://127.0.0.1:{gateway.http.port}"
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 503


def test_carbon_metrics_are_exported_upstream_over_otlp(context):
    with OTLPReceiver() as upstream:
        with Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, export_metrics_s=0.2) as gateway:
            send(gateway.port, {"chat gpt-4o-mini": GENAI, "GET /health": PLAIN})
            with upstream.received:
                arrived = upstream.received.wait_for(lambda: sc.SCI_CARBON in upstream.metric_names, timeout=10)
        assert arrived
    assert {sc.SCI_CARBON, sc.SCI_ENERGY} <= upstream.metric_names


@settings(max_examples=200, deadline=None)
@given(attributes=st.dictionaries(
    st.text(min_size=1, max_size=300),
    st.one_of(st.booleans(), st.integers(0, 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=300),
              st.lists(st.text(max_size=5), max_size=3), st.lists(st.floats(allow_nan=False), max_size=3)),
    max_size=30))
def test_attributes_written_as_wire_bytes_equal_the_messages(attributes):
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from otel_carbon.collector.wire import any_value, attributes_wire

    by_message, by_wire = Span(name="x"), Span(name="x")
    by_message.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in attributes.items())
    by_wire.MergeFromString(attributes_wire(attributes))
    assert by_wire == by_message
