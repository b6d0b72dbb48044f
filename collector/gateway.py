"""The gRPC gateway: OTLP TraceService in, enrichment, OTLP TraceService out (upstream).

Each accepted request is enriched and handed to the :class:`Forwarder`.
Without a retry queue it is forwarded before it is acknowledged, so the
sending SDK's own retry covers an upstream outage (``UNAVAILABLE``, retryable
in OTLP).  With ``queue_dir`` set, what the upstream cannot take now is
persisted on disk, acknowledged, and delivered oldest-first when the upstream
is back (see :mod:`otel_carbon.collector.forwarder` for the guarantee).
Backpressure: at most ``max_inflight`` requests are handled at once per
receiver; beyond that gRPC answers ``RESOURCE_EXHAUSTED`` (gRPC core's
``maximum_concurrent_rpcs``) and HTTP 429 with ``Retry-After``.  Carbon
metrics of the enriched spans go to a Prometheus scrape endpoint
(``metrics_listen``) and/or upstream over OTLP every ``export_metrics_s``.  Metrics and
logs are relayed unchanged.  A request that cannot be enriched is forwarded as it came (logged
once).  OTLP/HTTP (protobuf and JSON) is served on its own port when asked.
Both receivers take the same :class:`ReceiverSecurity` (bearer token,
TLS/mTLS).  A gRPC payload that does not decode, or has ids of the wrong
length, is ``INVALID_ARGUMENT`` (counted as ``malformed``).  Both ports are
bound exclusively (no ``SO_REUSEPORT``): a second gateway on the same port
fails to start with an ``OSError`` naming the port.  The upstream link is
an :class:`Upstream` (plaintext or TLS/mTLS, headers); the upstream deadline
is ``upstream_timeout_s``, shortened to the gRPC sender's own deadline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.metrics import NoOpMeterProvider

from otel_carbon._log import log_once
from otel_carbon.accounting import CallSink
from otel_carbon.collector import errors
from otel_carbon.collector.disk_queue import DiskQueue
from otel_carbon.collector.forwarder import Forwarder
from otel_carbon.collector.metrics import GatewayMetrics
from otel_carbon.collector.otlp import enrich_body
from otel_carbon.collector.payload import (
    PROTOBUF,
    SERVICES,
    SIGNALS,
    MalformedPayload,
    RejectionCounts,
    decode,
    item_count,
)
from otel_carbon.collector.security import BearerTokenInterceptor, ReceiverSecurity
from otel_carbon.collector.transport import transport
from otel_carbon.collector.upstream import Upstream
from otel_carbon.processors.accountant import CarbonAccountant
from otel_carbon.processors.enrich import EnrichmentContext
from otel_carbon.processors.nesting import CallNests

_logger = logging.getLogger(__name__)
#: Largest request accepted, bytes (the OpenTelemetry Collector's gRPC default is 4 MiB).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class TraceEnricher:
    """Enrich encoded trace requests.  ``accountant`` counts the calls (the gateway's metrics); the memory of
    recent GenAI spans keeps one count per call across requests (:mod:`otel_carbon.processors.nesting`)."""

    def __init__(self, context: EnrichmentContext, accountant: CarbonAccountant | None,
                 count_enriched: bool = False) -> None:
        self._context = context
        self._accountant = accountant
        self._count_enriched = count_enriched
        self._nests = CallNests()
        self._lock = threading.Lock()
        self.enriched = 0  #: GenAI spans counted so far

    def enrich(self, body: bytes) -> bytes:
        """The enriched encoding of the ``ExportTraceServiceRequest`` ``body`` (already checked by
        :func:`.payload.decode`); on failure ``body`` as it came (logged once)."""
        try:
            enriched = enrich_body(body, self._context, self._accountant, self._nests, self._count_enriched)
        except Exception:  # forward what came rather than lose it
            log_once(_logger, "collector.enrich", "otel-carbon collector could not enrich a request", exc_info=True)
            return body
        with self._lock:
            self.enriched += enriched.counted
        return enriched.body


def _listen_error(role: str, address: tuple[str, int] | None, exc: OSError) -> OSError:
    """``OSError`` naming the address and port a receiver or endpoint could not bind, and why."""
    host, port = address or ("?", 0)
    return OSError(f"cannot listen on {host}:{port} ({role}): {exc.strerror or exc}")


class Gateway:
    """An OTLP gateway: gRPC on ``listen`` (``host:port``), optionally OTLP/HTTP on
    ``http_listen``, forwarding to ``upstream`` (gRPC ``host:port``, or an :class:`Upstream`)."""

    def __init__(
        self,
        listen: str,
        upstream: str | Upstream,
        context: EnrichmentContext | None = None,
        *,
        http_listen: tuple[str, int] | None = None,
        metrics_listen: tuple[str, int] | None = None,
        export_metrics_s: float | None = None,
        workers: int = 8,
        upstream_timeout_s: float = 10.0,
        security: ReceiverSecurity | None = None,
        queue_dir: str | None = None,
        queue_max_bytes: int = 256 * 1024 * 1024,
        max_inflight: int = 64,
        http_header_timeout_s: float = 10.0,
        http_body_timeout_s: float = 30.0,
        count_enriched: bool = False,
        sinks: Sequence[CallSink] = (),
    ) -> None:
        security = security or ReceiverSecurity()
        link = upstream if isinstance(upstream, Upstream) else Upstream(upstream)
        self.rejected = RejectionCounts()  #: gRPC calls refused, by reason (as the OTLP/HTTP receiver's)
        context = context or EnrichmentContext()
        self.metrics = None
        if metrics_listen or export_metrics_s:
            try:
                self.metrics = GatewayMetrics(
                    prometheus_listen=metrics_listen,
                    otlp_upstream=link if export_metrics_s else None,
                    export_interval_s=export_metrics_s or 60.0,
                )
            except OSError as exc:
                raise _listen_error("the metrics endpoint", metrics_listen, exc) from exc
        self._transport = transport(link)
        self.forwarder = Forwarder(
            self._transport, upstream_timeout_s, DiskQueue(queue_dir, queue_max_bytes) if queue_dir else None,
            self.metrics.health.on_attempt if self.metrics else None,
        )
        accountant = None
        if self.metrics or sinks:  # counted calls: the gateway's metrics and the ledger (``sinks``, owned by the caller)
            meter_provider = self.metrics.meter_provider if self.metrics else NoOpMeterProvider()
            accountant = CarbonAccountant(context, meter_provider=meter_provider, sinks=sinks)
        self.traces = TraceEnricher(context, accountant, count_enriched)
        # No SO_REUSEPORT: gRPC's default would let a second gateway share the port silently.
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.so_reuseport", 0)]
        interceptors = [BearerTokenInterceptor(security, lambda: self.rejected.add("unauthenticated"))]
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=min(workers, max_inflight)),
            options=options,
            maximum_concurrent_rpcs=max_inflight,
            interceptors=interceptors if security.bearer_token else [],
        )
        self._server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(service, {"Export": self._grpc_handler(signal)})
             for signal, service in SERVICES.items()]
        )
        try:
            credentials = security.grpc_credentials()
            self.port = (
                self._server.add_secure_port(listen, credentials)
                if credentials
                else self._server.add_insecure_port(listen)
            )
        except RuntimeError:  # grpcio reports a failed bind this way
            self.port = 0
        if self.port == 0:
            self._close()
            raise OSError(f"cannot listen on {listen} (OTLP/gRPC): the port is in use, or the address is not this "
                          "host's")
        self.http = None
        if http_listen:
            from otel_carbon.collector.http_receiver import OTLPHttpServer  # aiohttp: the 'collector' extra

            try:
                self.http = OTLPHttpServer(
                    http_listen,
                    self._relay_http,
                    MAX_MESSAGE_BYTES,
                    ready=self.upstream_ready,
                    security=security,
                    max_inflight=max_inflight,
                    header_timeout_s=http_header_timeout_s,
                    body_timeout_s=http_body_timeout_s,
                )
            except OSError as exc:
                self._server.stop(None)
                self._close()
                raise _listen_error("OTLP/HTTP", http_listen, exc) from exc
        if self.metrics is not None:
            receivers = {"grpc": self.rejected, **({"http": self.http.rejected} if self.http else {})}
            self.metrics.health.watch(self.forwarder, receivers, self.http)

    def _grpc_handler(self, signal: str) -> grpc.RpcMethodHandler:
        """``Export`` taking raw bytes: what does not decode is ``INVALID_ARGUMENT`` (gRPC's own
        deserializer would answer ``INTERNAL``), counted as ``malformed``; a failed relay is answered and
        counted per :func:`.errors.answer` (the table the OTLP/HTTP receiver uses too)."""
        request_type, response_type = SIGNALS[signal]

        def export(body: bytes, context: grpc.ServicerContext) -> Any:
            try:
                request = decode(body, PROTOBUF, request_type)
            except MalformedPayload as exc:
                self.rejected.add("malformed")
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            items = item_count(signal, request)
            if signal == "traces":  # enrichment works on the bytes as received
                body = self.traces.enrich(body)
            try:
                self.forwarder.submit(signal, body, items, context.time_remaining())
            except Exception as exc:  # noqa: BLE001 - every failure gets the table's answer, never gRPC's UNKNOWN
                reply = errors.answer(exc)
                self.rejected.add(reply.reason)
                context.abort(reply.grpc_code, reply.message)
            return response_type()

        return grpc.unary_unary_rpc_method_handler(export, response_serializer=response_type.SerializeToString)

    def upstream_ready(self, timeout_s: float = 1.0) -> bool:
        """Whether the upstream can be reached within ``timeout_s``."""
        return self._transport.ready(timeout_s)

    def _relay_http(self, signal: str, request: Any, body: bytes | None) -> None:
        """Enrich (traces) and forward one OTLP/HTTP request (the forwarder's exceptions ask for a retry or not);
        ``body``: the request's protobuf encoding, as received (``None`` for OTLP/JSON: encoded here)."""
        payload = body if body is not None else request.SerializeToString()
        if signal == "traces":
            payload = self.traces.enrich(payload)
        self.forwarder.submit(signal, payload, item_count(signal, request))

    def start(self) -> Gateway:
        self._server.start()
        if self.http is not None:
            self.http.start()
        return self

    def wait(self) -> None:
        self._server.wait_for_termination()

    def _close(self) -> None:
        """Release the forwarder (its retry-queue thread), the metrics and the upstream link: after a failed
        construction, or at the end of :meth:`stop`."""
        self.forwarder.stop()
        if self.metrics is not None:
            self.metrics.stop()
        self._transport.close()

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop receiving, finish in-flight requests and drain the retry queue (each up to ``grace_s``);
        what the queue could not deliver stays on disk for the next start."""
        if self.http is not None:
            self.http.stop()
        self._server.stop(grace_s).wait()
        self.forwarder.flush(grace_s)
        self._close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
