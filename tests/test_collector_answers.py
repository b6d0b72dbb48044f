"""Both receivers answer the same failure alike: retryable or not, over real sockets.

For each way the upstream can fail (down, a gRPC status, an HTTP status, slower than the upstream
deadline) and for a retry queue that cannot write, one request goes to the gateway's OTLP/gRPC
receiver and one to its OTLP/HTTP receiver.  The OTLP specification's retry classes must agree:
gRPC ``UNAVAILABLE`` (and the other retryable codes) with HTTP 429/502/503/504 + ``Retry-After``,
``INVALID_ARGUMENT`` with a 4xx that is not retried — and both receivers count the same reason.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from otlp_receiver import OTLPReceiver

from otel_carbon.collector.gateway import Gateway
from otel_carbon.collector.payload import PROTOBUF, SERVICES
from otel_carbon.collector.upstream import Upstream
from otel_carbon.config import CarbonSettings
from otel_carbon.processors.enrich import EnrichmentContext

#: OTLP/gRPC codes a sender retries (RESOURCE_EXHAUSTED only with RetryInfo, which is not sent here).
GRPC_RETRYABLE = {grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
                  grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS}
#: OTLP/HTTP statuses a sender retries.
HTTP_RETRYABLE = {429, 502, 503, 504}
UPSTREAM_DEADLINE_S = 0.5


@pytest.fixture(scope="module")
def context():
    return EnrichmentContext(settings=CarbonSettings(zone="FR"))


def _request(batch: int) -> trace_service_pb2.ExportTraceServiceRequest:
    span = Span(name="x", trace_id=batch.to_bytes(16, "big"), span_id=(batch + 1).to_bytes(8, "big"))
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(
        spans=[span])])])


@contextmanager
def _grpc_upstream(code: grpc.StatusCode | None = None, delay_s: float = 0.0) -> Iterator[str]:
    """An OTLP/gRPC upstream answering ``code`` to every export after ``delay_s`` (no code: it takes it)."""
    done = threading.Event()

    def export(body: bytes, context: grpc.ServicerContext) -> bytes:
        done.wait(delay_s)
        if code is not None:
            context.abort(code, "refused by the test upstream")
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        SERVICES["traces"], {"Export": grpc.unary_unary_rpc_method_handler(export)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        done.set()
        server.stop(None)


@contextmanager
def _http_upstream(status: int) -> Iterator[Upstream]:
    """An OTLP/HTTP upstream answering ``status`` to every POST."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Upstream(f"http://127.0.0.1:{server.server_address[1]}", protocol="http/protobuf")
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _down_upstream() -> Iterator[str]:
    with OTLPReceiver() as parked:
        port = parked.port
    yield f"127.0.0.1:{port}"  # nothing listens there any more


def _answers(gateway: Gateway) -> tuple[grpc.StatusCode, httpx.Response]:
    """The gRPC code and the HTTP response for one request to each receiver."""
    assert gateway.http is not None
    stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{gateway.port}"))
    with pytest.raises(grpc.RpcError) as info:
        stub.Export(_request(0), timeout=10)
    response = httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces", content=_request(1).SerializeToString(),
                          headers={"content-type": PROTOBUF}, timeout=10)
    return info.value.code(), response


# (failure, how to make it, whether OTLP senders should retry, the reason both receivers count)
CASES = [
    ("down", _down_upstream, True, "upstream"),
    ("grpc UNAVAILABLE", lambda: _grpc_upstream(grpc.StatusCode.UNAVAILABLE), True, "upstream"),
    ("grpc RESOURCE_EXHAUSTED", lambda: _grpc_upstream(grpc.StatusCode.RESOURCE_EXHAUSTED), True, "upstream"),
    ("grpc INTERNAL", lambda: _grpc_upstream(grpc.StatusCode.INTERNAL), True, "upstream"),
    ("grpc slower than the deadline", lambda: _grpc_upstream(delay_s=3 * UPSTREAM_DEADLINE_S), True, "upstream"),
    ("grpc INVALID_ARGUMENT", lambda: _grpc_upstream(grpc.StatusCode.INVALID_ARGUMENT), False, "upstream_rejected"),
    ("grpc UNAUTHENTICATED", lambda: _grpc_upstream(grpc.StatusCode.UNAUTHENTICATED), False, "upstream_rejected"),
    ("http 503", lambda: _http_upstream(503), True, "upstream"),
    ("http 429", lambda: _http_upstream(429), True, "upstream"),
    ("http 500", lambda: _http_upstream(500), True, "upstream"),
    ("http 400", lambda: _http_upstream(400), False, "upstream_rejected"),
    ("http 401", lambda: _http_upstream(401), False, "upstream_rejected"),
]


@pytest.mark.parametrize(("failure", "upstream", "retryable", "reason"), CASES, ids=[case[0] for case in CASES])
def test_both_receivers_answer_an_upstream_failure_in_the_same_class(context, failure, upstream, retryable, reason):
    with upstream() as link, Gateway("127.0.0.1:0", link, context, http_listen=("127.0.0.1", 0),
                                     upstream_timeout_s=UPSTREAM_DEADLINE_S) as gateway:
        code, response = _answers(gateway)
        assert gateway.http is not None
        assert (code in GRPC_RETRYABLE) == retryable, code
        assert (response.status_code in HTTP_RETRYABLE) == retryable, response.status_code
        assert ("retry-after" in response.headers) == retryable
        assert 400 <= response.status_code < 600
        assert gateway.rejected.by_reason == gateway.http.rejected.by_reason == {reason: 1}
    if failure == "http 429":  # a throttling upstream is passed on as throttling to HTTP senders
        assert response.status_code == 429


def test_a_retry_queue_that_cannot_write_is_retryable_on_both_receivers(context, tmp_path: Path):
    queue = tmp_path / "queue"
    with _down_upstream() as link, Gateway("127.0.0.1:0", link, context, http_listen=("127.0.0.1", 0),
                                           queue_dir=str(queue), upstream_timeout_s=UPSTREAM_DEADLINE_S) as gateway:
        shutil.rmtree(queue)  # the disk under the queue is gone: nothing can be persisted, so nothing is accepted
        code, response = _answers(gateway)
        assert gateway.http is not None
        assert code == grpc.StatusCode.UNAVAILABLE
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert gateway.rejected.by_reason == gateway.http.rejected.by_reason == {"internal": 1}
