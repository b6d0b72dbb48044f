"""The gRPC gateway: OTLP TraceService in, enrichment, OTLP TraceService out (upstream).

Each accepted request is enriched and forwarded synchronously before it is
acknowledged, so the sending SDK's own retry covers an upstream outage: an
unreachable upstream answers ``UNAVAILABLE`` (retryable in OTLP) and nothing
is acknowledged that was not delivered.  Metrics and logs are relayed
unchanged.  A request that cannot be enriched is forwarded as it came (logged
once).  OTLP/HTTP (protobuf and JSON) is served on its own port when asked.
(Persistent retry queue, auth/TLS and Prometheus are the next slices; see the
collector issue.)
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from otel_carbon._log import log_once
from otel_carbon.collector.http_receiver import OTLPHttpServer, UpstreamUnavailable
from otel_carbon.collector.otlp import OnEnriched, enrich_request
from otel_carbon.processors.enrich import EnrichmentContext

_logger = logging.getLogger(__name__)
#: Largest request accepted, bytes (the OpenTelemetry Collector's gRPC default is 4 MiB).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class _Relay:
    """Forward a request to an upstream stub method; map upstream failure to a retryable status."""

    def __init__(self, method: Any, timeout_s: float) -> None:
        self._method = method
        self._timeout_s = timeout_s

    def forward(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return self._method(request, timeout=self._timeout_s)
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNAVAILABLE
            # A payload the upstream rejects is the sender's to fix; anything else is retryable.
            status = code if code == grpc.StatusCode.INVALID_ARGUMENT else grpc.StatusCode.UNAVAILABLE
            context.abort(status, f"upstream: {code.name}")


class TraceRelay(trace_service_pb2_grpc.TraceServiceServicer):
    """Enrich, then forward."""

    def __init__(
        self, upstream: grpc.Channel, context: EnrichmentContext, timeout_s: float, on_enriched: OnEnriched | None
    ) -> None:
        self._relay = _Relay(trace_service_pb2_grpc.TraceServiceStub(upstream).Export, timeout_s)
        self._context = context
        self._on_enriched = on_enriched
        self._lock = threading.Lock()
        self.enriched = 0  #: GenAI spans enriched so far

    def enrich(self, request: Any) -> None:
        """Enrich ``request`` in place; on failure leave it as it came (logged once)."""
        try:
            count = enrich_request(request, self._context, self._on_enriched)
            with self._lock:
                self.enriched += count
        except Exception:  # forward what came rather than lose it
            log_once(_logger, "collector.enrich", "otel-carbon collector could not enrich a request", exc_info=True)

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 - gRPC name
        self.enrich(request)
        return self._relay.forward(request, context)


class MetricsRelay(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, upstream: grpc.Channel, timeout_s: float) -> None:
        self._relay = _Relay(metrics_service_pb2_grpc.MetricsServiceStub(upstream).Export, timeout_s)

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._relay.forward(request, context)


class LogsRelay(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, upstream: grpc.Channel, timeout_s: float) -> None:
        self._relay = _Relay(logs_service_pb2_grpc.LogsServiceStub(upstream).Export, timeout_s)

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._relay.forward(request, context)


class Gateway:
    """An OTLP gateway: gRPC on ``listen`` (``host:port``), optionally OTLP/HTTP on
    ``http_listen``, forwarding over gRPC to ``upstream``."""

    def __init__(
        self,
        listen: str,
        upstream: str,
        context: EnrichmentContext | None = None,
        *,
        http_listen: tuple[str, int] | None = None,
        metrics_listen: tuple[str, int] | None = None,
        workers: int = 8,
        upstream_timeout_s: float = 10.0,
    ) -> None:
        self._channel = grpc.insecure_channel(upstream)
        self._timeout_s = upstream_timeout_s
        self._upstream = {
            "/v1/traces": trace_service_pb2_grpc.TraceServiceStub(self._channel).Export,
            "/v1/metrics": metrics_service_pb2_grpc.MetricsServiceStub(self._channel).Export,
            "/v1/logs": logs_service_pb2_grpc.LogsServiceStub(self._channel).Export,
        }
        context = context or EnrichmentContext()
        self.prometheus = None
        if metrics_listen:
            from otel_carbon.collector.prometheus import PrometheusEndpoint  # the 'collector' extra

            self.prometheus = PrometheusEndpoint(*metrics_listen, dimensions=context.settings.dimensions)
        on_enriched = self.prometheus.record if self.prometheus else None
        self.traces = TraceRelay(self._channel, context, upstream_timeout_s, on_enriched)
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=options)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self.traces, self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsRelay(self._channel, upstream_timeout_s), self._server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsRelay(self._channel, upstream_timeout_s), self._server)
        try:
            self.port = self._server.add_insecure_port(listen)
        except RuntimeError:  # grpcio reports a failed bind this way
            self.port = 0
        if self.port == 0:
            self._channel.close()
            raise OSError(f"cannot listen on {listen}")
        self.http = (
            OTLPHttpServer(http_listen, self._relay_http, MAX_MESSAGE_BYTES, ready=self.upstream_ready)
            if http_listen
            else None
        )

    def upstream_ready(self, timeout_s: float = 1.0) -> bool:
        """Whether the upstream channel connects within ``timeout_s``."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            return False
        return True

    def _relay_http(self, path: str, request: Any) -> None:
        """Enrich (traces) and forward one OTLP/HTTP request; raise UpstreamUnavailable to ask for a retry."""
        if path == "/v1/traces":
            self.traces.enrich(request)
        try:
            self._upstream[path](request, timeout=self._timeout_s)
        except grpc.RpcError as error:
            raise UpstreamUnavailable(path) from error

    def start(self) -> Gateway:
        self._server.start()
        if self.http is not None:
            self.http.start()
        return self

    def wait(self) -> None:
        self._server.wait_for_termination()

    def stop(self, grace_s: float = 5.0) -> None:
        """Finish in-flight requests (up to ``grace_s``), then close the upstream channel."""
        if self.http is not None:
            self.http.stop()
        self._server.stop(grace_s).wait()
        if self.prometheus is not None:
            self.prometheus.stop()
        self._channel.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
