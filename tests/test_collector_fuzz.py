"""Hypothesis throws arbitrary bodies, content types and paths at the live receivers (real sockets).

Each answer must be one of the documented statuses (never a 5xx other than
the upstream's 503, never a dropped connection on gRPC beyond a clean status),
and the gateway must still serve afterwards.
"""

from __future__ import annotations

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from otlp_receiver import OTLPReceiver

from otel_carbon.collector.gateway import Gateway
from otel_carbon.collector.payload import JSON, PROTOBUF
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext

HTTP_ALLOWED = {200, 400, 404, 413, 415}
GRPC_ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}


@pytest.fixture(scope="module")
def gateway():
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context,
                                             http_listen=("127.0.0.1", 0)) as gateway:
        yield gateway


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048), content_type=st.sampled_from([PROTOBUF, JSON, "text/plain", ""]),
       path=st.sampled_from(["/v1/traces", "/v1/metrics", "/v1/logs", "/v1/nope"]))
def test_http_receiver_answers_every_body_with_a_documented_status(gateway, body, content_type, path):
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.http.port}", timeout=10) as client:
        answer = client.post(path, content=body, headers={"content-type": content_type} if content_type else {})
        assert answer.status_code in HTTP_ALLOWED
        assert client.get("/healthz").status_code == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048))
def test_grpc_receiver_answers_every_body_with_a_clean_status(gateway, body):
    """Raw bytes as the TraceService request: what does not parse, or has ids of the wrong length, is
    ``INVALID_ARGUMENT`` (the sender's to fix, not retried); what parses is enriched and forwarded (``OK``)."""
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                     request_serializer=None, response_deserializer=None)
        try:
            export(body, timeout=10)
            code = grpc.StatusCode.OK
        except grpc.RpcError as error:
            code = error.code()
        assert code in GRPC_ALLOWED
        # Still serving: a valid empty request goes through.
        ok = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                 request_serializer=trace_service_pb2.ExportTraceServiceRequest.SerializeToString,
                                 response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString)
        ok(trace_service_pb2.ExportTraceServiceRequest(), timeout=10)
