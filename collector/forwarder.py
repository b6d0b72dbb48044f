"""OTLP/gRPC export upstream, with an optional persistent retry queue for outages.

Without a queue a request is acknowledged only once the upstream took it; a
retryable failure raises :class:`UpstreamUnavailable` and the sender retries.
With a :class:`DiskQueue`, a request the upstream cannot take now (or any
request while older ones wait) is written to disk and acknowledged; one
background thread delivers the queue oldest-first, backing off while the
upstream is down.  Delivery guarantee: each accepted request reaches the
upstream once, or is counted in the queue's ``dropped_*`` when the queue is
full; a crash between the upstream's acknowledgement and the file's deletion
re-sends that one request after restart (at-least-once at that instant).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from otel_carbon._log import log_once
from otel_carbon.collector.disk_queue import DiskQueue
from otel_carbon.collector.http_receiver import SIGNALS, UpstreamRejected, UpstreamUnavailable

_logger = logging.getLogger(__name__)
#: Upstream codes that mean "this payload will never be accepted"; anything else is retried.
PERMANENT = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED,
                       grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED})
BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def item_count(signal: str, request: Any) -> int:
    """Spans, metrics or log records in an OTLP export request."""
    if signal == "traces":
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    if signal == "metrics":
        return sum(len(s.metrics) for r in request.resource_metrics for s in r.scope_metrics)
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


class Forwarder:
    """Send ``traces`` / ``metrics`` / ``logs`` requests upstream over ``channel``."""

    def __init__(self, channel: grpc.Channel, timeout_s: float, queue: DiskQueue | None = None) -> None:
        self._timeout_s = timeout_s
        self._export = {
            "traces": trace_service_pb2_grpc.TraceServiceStub(channel).Export,
            "metrics": metrics_service_pb2_grpc.MetricsServiceStub(channel).Export,
            "logs": logs_service_pb2_grpc.LogsServiceStub(channel).Export,
        }
        self.queue = queue
        self.delivered_from_queue = 0  #: requests the drain thread delivered
        self.refused_from_queue = 0  #: queued requests the upstream refused for good (logged)
        self._stop = threading.Event()
        self._drainer: threading.Thread | None = None
        if queue is not None:
            self._drainer = threading.Thread(target=self._drain, name="otel-carbon-retry-queue", daemon=True)
            self._drainer.start()

    def submit(self, signal: str, request: Message) -> None:
        """Deliver or persist ``request``; raises :class:`UpstreamUnavailable` / :class:`UpstreamRejected`."""
        if self.queue is not None and len(self.queue) > 0:
            self.queue.put(signal, request.SerializeToString(), item_count(signal, request))
            return
        try:
            self._send(signal, request)
        except UpstreamUnavailable:
            if self.queue is None:
                raise
            self.queue.put(signal, request.SerializeToString(), item_count(signal, request))

    def _send(self, signal: str, request: Message) -> None:
        try:
            self._export[signal](request, timeout=self._timeout_s)
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNAVAILABLE
            if code in PERMANENT:
                raise UpstreamRejected(code.name) from error
            raise UpstreamUnavailable(code.name) from error

    def _drain(self) -> None:
        assert self.queue is not None
        failures = 0
        while not self._stop.is_set():
            head = self.queue.oldest(timeout_s=0.2)
            if head is None:
                continue
            entry, payload = head
            request = SIGNALS[f"/v1/{entry.signal}"][0]()
            try:
                request.ParseFromString(payload)
                self._send(entry.signal, request)
            except UpstreamUnavailable:
                self._stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1
                continue
            except Exception:  # refused for good, or a corrupt file: never block the queue on it
                log_once(_logger, "collector.queue", "otel-carbon collector dropped a queued request", exc_info=True)
                self.refused_from_queue += 1
            else:
                self.delivered_from_queue += 1
            failures = 0
            self.queue.remove(entry)

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the queue to empty; whether it did."""
        if self.queue is None:
            return True
        for _ in range(max(1, int(timeout_s / 0.05))):
            if len(self.queue) == 0:
                return True
            time.sleep(0.05)
        return len(self.queue) == 0

    def stop(self) -> None:
        """Stop the drain thread; what it has not delivered stays on disk for the next start."""
        self._stop.set()
        if self._drainer is not None:
            self._drainer.join(timeout=self._timeout_s + 1)
