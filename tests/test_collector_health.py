"""The gateway's own health on its Prometheus endpoint, scraped over a real socket: accepted, rejected by
receiver and reason, queue size while the upstream is down, upstream call durations, a real service.name."""

from __future__ import annotations

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from otlp_receiver import OTLPReceiver

from otel_carbon.collector.gateway import Gateway
from otel_carbon.collector.payload import PROTOBUF
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext


def _request(name: str) -> trace_service_pb2.ExportTraceServiceRequest:
    span = Span(name=name, trace_id=bytes(15) + b"\x01", span_id=bytes(7) + b"\x01")
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])


def _sample(text: str, name: str, *labels: str) -> float | None:
    """The value of the first sample of ``name`` whose line holds every label (``key="value"``)."""
    for line in text.splitlines():
        if line.startswith(name) and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_health_figures_on_the_scrape_endpoint(tmp_path):
    with OTLPReceiver() as parked:
        dead_port = parked.port
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    with Gateway("127.0.0.1:0", f"127.0.0.1:{dead_port}", context, http_listen=("127.0.0.1", 0),
                 metrics_listen=("127.0.0.1", 0), queue_dir=str(tmp_path), upstream_timeout_s=0.3) as gateway:
        with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(_request("queued"), timeout=10)
            with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as raw_channel:
                try:
                    raw_channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(
                        b"\xff\xff", timeout=5)
                except grpc.RpcError:
                    pass
        http = f"http://127.0.0.1:{gateway.http.port}/v1/traces"
        assert httpx.post(http, content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
        assert httpx.post(http, content=_request("q2").SerializeToString(),
                          headers={"content-type": PROTOBUF}).status_code == 200
        text = httpx.get(f"http://127.0.0.1:{gateway.metrics.port}/metrics", timeout=10).text
    assert _sample(text, "otel_carbon_gateway_accepted", 'otel_carbon_signal="traces"') == 2
    assert _sample(text, "otel_carbon_gateway_rejected", 'otel_carbon_receiver="grpc"',
                   'otel_carbon_reason="malformed"') == 1
    assert _sample(text, "otel_carbon_gateway_rejected", 'otel_carbon_receiver="http"',
                   'otel_carbon_reason="content_type"') == 1
    assert _sample(text, "otel_carbon_gateway_queue_size") == 2
    assert _sample(text, "otel_carbon_gateway_upstream_duration_seconds_count", 'otel_carbon_outcome="unavailable"') >= 1
    assert 'service_name="otel-carbon-collector"' in text
