"""Gateway faults over real sockets: upstream outages, restarts with a queue on disk, backpressure.

Guarantee under test (see ``otel_carbon.collector.forwarder``): every span the
gateway acknowledged reaches the upstream exactly once, or is counted in the
disk queue's ``dropped_items`` — and only when the queue's byte bound forced it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from otlp_receiver import OTLPReceiver

from otel_carbon.collector.gateway import Gateway
from otel_carbon.collector.payload import PROTOBUF
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext

SPANS_PER_REQUEST = 5


@pytest.fixture
def context():
    return EnrichmentContext(settings=CarbonSettings(zone="FR"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(batch: int) -> trace_service_pb2.ExportTraceServiceRequest:
    spans = [Span(name=f"b{batch}-s{i}", trace_id=bytes(16 - 1) + bytes([batch % 256]), span_id=bytes(7) + bytes([i + 1]))
             for i in range(SPANS_PER_REQUEST)]
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


def _send(port: int, batches: range) -> None:
    """Export each batch over gRPC; each must be acknowledged (accepted) by the gateway."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        for batch in batches:
            stub.Export(_request(batch), timeout=10)


def _wait_for(receiver: OTLPReceiver, count: int) -> bool:
    with receiver.received:
        return receiver.received.wait_for(lambda: len(receiver.spans) >= count, timeout=20)


def test_upstream_down_then_back_every_accepted_span_arrives_once(tmp_path, context):
    port = _free_port()  # nothing listens here yet: the upstream is down
    with Gateway("127.0.0.1:0", f"127.0.0.1:{port}", context, queue_dir=str(tmp_path), upstream_timeout_s=0.5) as gateway:
        _send(gateway.port, range(20))  # all acknowledged although the upstream is down
        queue = gateway.forwarder.queue
        assert queue.items + gateway.forwarder.delivered_from_queue * SPANS_PER_REQUEST == 20 * SPANS_PER_REQUEST
        with OTLPReceiver(port=port) as upstream:
            _send(gateway.port, range(20, 25))  # while the backlog drains: queued behind it
            assert _wait_for(upstream, 25 * SPANS_PER_REQUEST)
            assert gateway.forwarder.flush(10)
    names = [name for name, _ in upstream.spans]
    expected = {f"b{b}-s{i}" for b in range(25) for i in range(SPANS_PER_REQUEST)}
    assert len(names) == len(expected) and set(names) == expected  # exactly once
    assert queue.dropped_items == 0 and list(tmp_path.glob("*.otlp")) == []


def test_a_full_queue_drops_the_oldest_and_counts_them(tmp_path, context):
    port = _free_port()
    one = len(_request(0).SerializeToString())
    # Room for 8 requests of this size; 20 are accepted while the upstream is down.
    with Gateway("127.0.0.1:0", f"127.0.0.1:{port}", context, queue_dir=str(tmp_path),
                 queue_max_bytes=8 * one + one // 2, upstream_timeout_s=0.5) as gateway:
        _send(gateway.port, range(20))
        queue = gateway.forwarder.queue
        assert (queue.dropped_requests, queue.dropped_items) == (12, 12 * SPANS_PER_REQUEST)
        with OTLPReceiver(port=port) as upstream:
            assert _wait_for(upstream, 8 * SPANS_PER_REQUEST)
            assert gateway.forwarder.flush(10)
    names = [name for name, _ in upstream.spans]
    # Oldest-first: the 8 newest batches survive, each span once; delivered + dropped = accepted.
    assert sorted(names) == sorted(f"b{b}-s{i}" for b in range(12, 20) for i in range(SPANS_PER_REQUEST))
    assert len(names) + queue.dropped_items == 20 * SPANS_PER_REQUEST


def test_restart_with_a_non_empty_disk_queue_loses_nothing(tmp_path, context):
    port = _free_port()
    first = Gateway("127.0.0.1:0", f"127.0.0.1:{port}", context, queue_dir=str(tmp_path), upstream_timeout_s=0.3)
    with first:
        _send(first.port, range(10))
    # Graceful stop could not flush to a dead upstream: the backlog stays on disk.
    assert len(list(tmp_path.glob("*.otlp"))) == 10
    with OTLPReceiver(port=port) as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{port}", context,
                                                       queue_dir=str(tmp_path)) as second:
        assert _wait_for(upstream, 10 * SPANS_PER_REQUEST)
        assert second.forwarder.flush(10)
    names = [name for name, _ in upstream.spans]
    assert sorted(names) == sorted(f"b{b}-s{i}" for b in range(10) for i in range(SPANS_PER_REQUEST))
    assert list(tmp_path.glob("*")) == []


class _BlockingUpstream(OTLPReceiver):
    """An upstream that holds each export until released: requests pile up in the gateway."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.entered.set()
        self.release.wait(10)
        return super().Export(request, context)


def test_backpressure_when_full_grpc_resource_exhausted_http_429(context):
    upstream = _BlockingUpstream()
    with upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context,
                           http_listen=("127.0.0.1", 0), max_inflight=1) as gateway:
        body = _request(1).SerializeToString()
        url = f"http://127.0.0.1:{gateway.http.port}/v1/traces"
        # One gRPC and one HTTP request each hold their receiver's only slot.
        held = [threading.Thread(target=_send, args=(gateway.port, range(1))),
                threading.Thread(target=httpx.post, args=(url,),
                                 kwargs={"content": body, "headers": {"content-type": PROTOBUF}, "timeout": 10})]
        held[0].start()
        assert upstream.entered.wait(10)
        upstream.entered.clear()
        held[1].start()
        assert upstream.entered.wait(10)
        with pytest.raises(grpc.RpcError) as busy:
            _send(gateway.port, range(2, 3))
        assert busy.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        refused = httpx.post(url, content=body, headers={"content-type": PROTOBUF}, timeout=10)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert gateway.http.rejected.by_reason == {"busy": 1}
        upstream.release.set()
        for thread in held:
            thread.join(10)
        # Slots free again: served.
        assert httpx.post(url, content=body, headers={"content-type": PROTOBUF}, timeout=10).status_code == 200
    assert len(upstream.spans) == 3 * SPANS_PER_REQUEST


def test_sigterm_flushes_the_retry_queue_before_exit(tmp_path):
    """The real ``otel-carbon collector`` process: backlog accepted while the upstream is down,
    upstream back, SIGTERM — the process drains the queue, then exits 0."""
    port = _free_port()
    queue = tmp_path / "queue"
    config = tmp_path / "gateway.yaml"  # upstream and queue from the file, receivers from the environment
    config.write_text(f"upstream: 127.0.0.1:{port}\nqueue_dir: {queue}\ncarbon:\n  zone: FR\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_carbon.cli", "collector", "--config", str(config), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "OTEL_CARBON_INTENSITY_PROVIDERS": "none", "OTEL_CARBON_INTENSITY_CACHE_FILE": "off",
             "OTEL_CARBON_COLLECTOR_HTTP_PORT": "0", "OTEL_CARBON_COLLECTOR_METRICS_PORT": "0"},
    )
    try:
        banner = process.stdout.readline()
        gateway_port = int(re.search(r"OTLP/gRPC on port (\d+)", banner).group(1))
        _send(gateway_port, range(6))
        with OTLPReceiver(port=port) as upstream:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert sorted(name for name, _ in upstream.spans) == sorted(
        f"b{b}-s{i}" for b in range(6) for i in range(SPANS_PER_REQUEST))
    assert list(queue.glob("*")) == []
