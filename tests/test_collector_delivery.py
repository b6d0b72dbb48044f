"""Delivery and the gRPC side over real sockets: ambiguous (timed-out) attempts counted, the sender's
deadline passed upstream, undecodable gRPC payloads answered ``INVALID_ARGUMENT``, the upstream link
over TLS/mTLS with headers, the disk queue's leftovers, the bearer token from the environment."""

from __future__ import annotations

import argparse
import threading
from collections import Counter
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from otlp_receiver import OTLPReceiver
from tls_support import make_pki

from otel_carbon.collector.command import TOKEN_ENV, receiver_security
from otel_carbon.collector.disk_queue import DiskQueue
from otel_carbon.collector.gateway import Gateway
from otel_carbon.collector.payload import PROTOBUF
from otel_carbon.collector.security import ReceiverSecurity
from otel_carbon.collector.upstream import Upstream, parse_headers
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext

SPANS = 4


@pytest.fixture
def context():
    return EnrichmentContext(settings=CarbonSettings(zone="FR"))


def _request(batch: int, trace_id_bytes: int = 16) -> trace_service_pb2.ExportTraceServiceRequest:
    spans = [Span(name=f"b{batch}-s{i}", trace_id=bytes(trace_id_bytes - 1) + b"\x01",
                  span_id=bytes([0, 0, 0, 0, 0, batch // 256, batch % 256, i + 1])) for i in range(SPANS)]
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


def _stub(port: int) -> trace_service_pb2_grpc.TraceServiceStub:
    return trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))


class _SlowUpstream(OTLPReceiver):
    """Takes ``delay_s`` per export, then records it: a sender with a shorter deadline has given up by then."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.deadlines: list[float | None] = []
        self._never = threading.Event()

    def Export(self, request: Any, context: Any) -> Any:
        self.deadlines.append(context.time_remaining())
        self._never.wait(self.delay_s)
        return super().Export(request, context)


def test_a_slow_upstream_duplicates_are_bounded_by_the_ambiguous_count(tmp_path, context):
    """Upstream slower than the deadline: every first attempt times out but still lands, the queue sends it
    again — every span arrives, and the duplicates never exceed what the gateway counted as ambiguous."""
    upstream = _SlowUpstream(delay_s=0.6)
    with upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, queue_dir=str(tmp_path),
                           upstream_timeout_s=0.3) as gateway:
        stub = _stub(gateway.port)
        for batch in range(3):
            stub.Export(_request(batch), timeout=10)  # acknowledged: queued after the ambiguous attempt
        upstream.delay_s = 0.0  # the upstream recovers; the queue drains
        assert gateway.forwarder.flush(20)
        with upstream.received:  # the timed-out first copies land too
            upstream.received.wait_for(lambda: len(upstream.span_ids) >= 2 * 3 * SPANS, timeout=10)
    arrived = Counter(upstream.span_ids)
    assert len(arrived) == 3 * SPANS  # nothing lost
    duplicates = sum(count - 1 for count in arrived.values())
    assert 0 < duplicates <= gateway.forwarder.ambiguous_items
    assert gateway.forwarder.ambiguous_requests >= 1


def test_the_senders_deadline_bounds_the_upstream_call(context):
    """No queue, upstream deadline 10 s, sender deadline 1 s: the upstream sees at most the sender's
    deadline, the sender is told, and the attempt is counted as ambiguous."""
    upstream = _SlowUpstream(delay_s=3.0)
    with upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, upstream_timeout_s=10) as gateway:
        with pytest.raises(grpc.RpcError) as info:
            _stub(gateway.port).Export(_request(0), timeout=1.0)
        assert info.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
        upstream.delay_s = 0.0
    assert upstream.deadlines and upstream.deadlines[0] is not None and upstream.deadlines[0] <= 1.0
    assert gateway.forwarder.ambiguous_requests == 1 and gateway.forwarder.ambiguous_items == SPANS


def test_undecodable_grpc_payloads_are_invalid_argument_and_counted(context):
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context) as gateway:
        with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            raw = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            for body in (b"\xff\xff\xff", _request(0, trace_id_bytes=2).SerializeToString()):
                with pytest.raises(grpc.RpcError) as info:
                    raw(body, timeout=5)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            _stub(gateway.port).Export(_request(1), timeout=5)  # still serving
        assert gateway.rejected.by_reason == {"malformed": 2}
    assert len(upstream.spans) == SPANS


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_upstream_over_mtls_with_headers(pki, context):
    cert, key = pki["server"]
    server_credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())],
                                                     root_certificates=pki["ca"].read_bytes(),
                                                     require_client_auth=True)
    client_cert, client_key = pki["client"]
    with OTLPReceiver(credentials=server_credentials) as upstream:
        link = Upstream(f"https://localhost:{upstream.port}", ca_file=str(pki["ca"]), cert_file=str(client_cert),
                        key_file=str(client_key), headers=parse_headers("Authorization=Bearer%20up-token,x-tenant=a"))
        assert "up-token" not in repr(link)
        with Gateway("127.0.0.1:0", link, context) as gateway:
            _stub(gateway.port).Export(_request(0), timeout=10)
        plaintext = Upstream(f"localhost:{upstream.port}")  # the same upstream without TLS: refused, retryable
        with Gateway("127.0.0.1:0", plaintext, context, upstream_timeout_s=1) as gateway:
            with pytest.raises(grpc.RpcError) as info:
                _stub(gateway.port).Export(_request(1), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(upstream.spans) == SPANS
    assert upstream.metadata[0]["authorization"] == "Bearer up-token" and upstream.metadata[0]["x-tenant"] == "a"


def test_upstream_options_are_checked():
    with pytest.raises(ValueError, match="both a certificate and a key"):
        Upstream("https://h:4317", cert_file="c.pem")
    with pytest.raises(ValueError, match="plaintext"):
        Upstream("http://h:4317", ca_file="ca.pem")
    with pytest.raises(ValueError, match="#2") as info:
        parse_headers("a=1,secret-without-equals")
    assert "secret" not in str(info.value)


def test_disk_queue_removes_leftover_temporary_files(tmp_path):
    queue = DiskQueue(tmp_path, 1024 * 1024)
    queue.put("traces", b"payload", 3)
    (tmp_path / "0000000000000009-traces-5.tmp").write_bytes(b"half a wri")  # a write cut short by a crash
    reopened = DiskQueue(tmp_path, 1024 * 1024)
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".otlp"]
    entry, payload = reopened.oldest(timeout_s=1)
    assert (payload, entry.items) == (b"payload", 3)


def test_a_token_from_the_environment_is_stripped(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "k8s-secret-token\n")
    args = argparse.Namespace(bearer_token_file=None, tls_cert=None, tls_key=None, tls_client_ca=None)
    security = receiver_security(args)
    assert security.authorized("Bearer k8s-secret-token")
    monkeypatch.setenv(TOKEN_ENV, "  \n")
    assert receiver_security(args).bearer_token is None


def test_upstream_over_otlp_http_with_tls_and_a_token(pki, context):
    """Gateway A forwards over OTLP/HTTP (TLS, bearer token in the headers) to gateway B's OTLP/HTTP
    receiver, which forwards over gRPC to the receiver; a wrong token is a permanent refusal."""
    cert, key = pki["server"]
    security = ReceiverSecurity(bearer_token="b-token", cert_file=str(cert), key_file=str(key))
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context,
                                             http_listen=("127.0.0.1", 0), security=security) as b:
        endpoint = f"https://localhost:{b.http.port}"
        good = Upstream(endpoint, ca_file=str(pki["ca"]), protocol="http/protobuf",
                        headers=parse_headers("authorization=Bearer b-token"))
        with Gateway("127.0.0.1:0", good, context) as a:
            _stub(a.port).Export(_request(0), timeout=10)
            assert a.upstream_ready()
        wrong = Upstream(endpoint, ca_file=str(pki["ca"]), protocol="http/protobuf",
                         headers=parse_headers("authorization=Bearer nope"))
        with Gateway("127.0.0.1:0", wrong, context) as a:
            with pytest.raises(grpc.RpcError) as info:
                _stub(a.port).Export(_request(1), timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # 401 upstream: not retried
    assert len(upstream.spans) == SPANS


def test_an_http_sender_that_gave_up_is_counted_as_a_suspected_duplicate(context):
    """The sender's timeout (0.5 s) is shorter than the slow upstream (1.5 s): the request still lands,
    the sender will send it again, and the gateway says so."""
    upstream = _SlowUpstream(delay_s=1.5)
    with upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, http_listen=("127.0.0.1", 0)) as gateway:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces", content=_request(0).SerializeToString(),
                       headers={"content-type": PROTOBUF}, timeout=0.5)
        with upstream.received:
            assert upstream.received.wait_for(lambda: len(upstream.span_ids) == SPANS, timeout=10)
        counted = threading.Event()
        for _ in range(100):  # bounded: the count follows the upstream's answer by an instant
            if gateway.http.abandoned_items == SPANS:
                break
            counted.wait(0.05)
        assert gateway.http.abandoned_items == SPANS
        assert gateway.forwarder.ambiguous_items == 0  # the upstream call itself succeeded


def test_cli_rejects_bad_upstream_options_in_one_line(monkeypatch, capsys):
    from otel_carbon.cli import main

    assert main(["collector", "--upstream", "https://x:1", "--upstream-ca", "/no/such/ca.pem"]) == 2
    assert "--upstream-ca: no such file" in capsys.readouterr().err
    assert main(["collector", "--upstream", "x:1", "--upstream-timeout-s", "0"]) == 2
    assert "timeouts must be positive" in capsys.readouterr().err
    monkeypatch.setenv("OTEL_CARBON_COLLECTOR_UPSTREAM_HEADERS", "authorization-secret-value")
    assert main(["collector", "--upstream", "x:1"]) == 2
    error = capsys.readouterr().err
    assert "upstream header #1" in error and "secret" not in error and error.count("\n") == 1
