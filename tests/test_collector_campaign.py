"""The fault campaign as a test: the real ``otel-carbon collector`` process with a disk queue, a sender
that retries like an OTLP exporter, an upstream that is down, then stalled (slower than the upstream
deadline), then healthy — and three ``kill -9`` restarts along the way.

Counted by span id at the end: every span the gateway acknowledged is delivered (lost = 0); duplicates
are allowed (at-least-once) and reported.  Printed figures go to ``docs/collector.md``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from otlp_receiver import OTLPReceiver

BATCHES = 150
SPANS_PER_BATCH = 20
STALL_S = 1.0  # per upstream call while stalled …
UPSTREAM_TIMEOUT_S = 0.5  # … against this deadline: every stalled attempt is ambiguous


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _batch(number: int) -> trace_service_pb2.ExportTraceServiceRequest:
    spans = [Span(name="s", trace_id=number.to_bytes(16, "big"), span_id=(number * 1000 + i + 1).to_bytes(8, "big"))
             for i in range(SPANS_PER_BATCH)]
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


class _Upstream(OTLPReceiver):
    """Records span ids; ``stall_s`` per call while stalled."""

    def __init__(self, port: int) -> None:
        super().__init__(port=port)
        self.stall_s = 0.0
        self._never = threading.Event()

    def Export(self, request: Any, context: Any) -> Any:
        self._never.wait(self.stall_s)
        return super().Export(request, context)


class _GatewayProcess:
    def __init__(self, port: int, upstream_port: int, queue: Path) -> None:
        self.args = [sys.executable, "-m", "otel_carbon.cli", "collector", "--listen", f"127.0.0.1:{port}",
                     "--upstream", f"127.0.0.1:{upstream_port}", "--queue-dir", str(queue),
                     "--upstream-timeout-s", str(UPSTREAM_TIMEOUT_S), "--http-port", "0", "--metrics-port", "0"]
        self.env = {**os.environ, "OTEL_CARBON_INTENSITY_PROVIDERS": "none", "OTEL_CARBON_INTENSITY_CACHE_FILE": "off",
                    "OTEL_CARBON_ZONE": "FR"}
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True, env=self.env)
        assert re.search(r"OTLP/gRPC on port \d+", self.process.stdout.readline())

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _sender(port: int, acked: list[int], done: threading.Event) -> None:
    """Send each batch until acknowledged (retrying what an OTLP exporter retries), as fast as accepted."""
    pause = threading.Event()
    for number in range(BATCHES):
        for _ in range(600):  # bounded: 600 tries × ≥ 50 ms
            try:
                with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                    trace_service_pb2_grpc.TraceServiceStub(channel).Export(_batch(number), timeout=5)
                acked.append(number)
                break
            except grpc.RpcError:
                pause.wait(0.05)
    done.set()


def test_outage_kill9_and_stall_lose_no_acknowledged_span(tmp_path):
    port, upstream_port = _free_port(), _free_port()
    gateway = _GatewayProcess(port, upstream_port, tmp_path / "queue")
    upstream = _Upstream(upstream_port)
    acked: list[int] = []
    done = threading.Event()
    sender = threading.Thread(target=_sender, args=(port, acked, done))
    waiter = threading.Event()
    try:
        gateway.start()
        sender.start()
        kills = 0
        for phase_end, action in ((BATCHES // 4, "kill"), (BATCHES // 3, "stalled upstream"),
                                  (BATCHES // 2, "kill"), (2 * BATCHES // 3, "kill"), (BATCHES, "healthy")):
            for _ in range(2000):  # bounded wait for the sender to get this far
                if len(acked) >= phase_end or done.is_set():
                    break
                waiter.wait(0.05)
            if action == "kill":
                gateway.kill()
                kills += 1
                gateway.start()
            elif action == "stalled upstream":
                upstream.stall_s = STALL_S
                upstream.__enter__()
        upstream.stall_s = 0.0
        sender.join(120)
        assert done.is_set()
        expected = {(number * 1000 + i + 1).to_bytes(8, "big") for number in acked for i in range(SPANS_PER_BATCH)}
        with upstream.received:
            upstream.received.wait_for(lambda: expected <= set(upstream.span_ids), timeout=60)
    finally:
        gateway.stop()
        upstream.__exit__()
    arrived = Counter(upstream.span_ids)
    lost = len(expected - set(arrived))
    duplicated = sum(count - 1 for count in arrived.values())
    print(f"\nfault campaign: {len(expected)} spans acknowledged, {kills} kill -9, "
          f"delivered {len(set(arrived) & expected)}, lost {lost}, duplicated {duplicated}")
    assert kills == 3 and len(acked) == BATCHES
    assert lost == 0
    assert set(arrived) <= expected  # nothing the sender never sent
    assert list((tmp_path / "queue").glob("*.tmp")) == []
