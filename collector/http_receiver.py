"""OTLP/HTTP receiver (``/v1/traces``, ``/v1/metrics``, ``/v1/logs``), protobuf and JSON.

Requests are decoded, handed to the gateway's relay function (which enriches
traces and forwards upstream), and answered in the request's encoding.
``GET /healthz`` and ``GET /readyz`` (upstream reachable) serve probes.
Rejections follow the OTLP/HTTP specification: 415 for an unsupported content
type, 400 for a payload that does not decode, 413 above the size limit, 503
with ``Retry-After`` when the upstream is unavailable (retryable), 401 for a
missing or wrong bearer token, 429 with ``Retry-After`` when ``max_inflight``
requests are already being handled (backpressure; the body is not read).  With TLS configured the socket speaks TLS
(mTLS when a client CA is set); the handshake runs in the request's thread.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from otel_carbon.collector.security import UNAUTHENTICATED_MESSAGE, ReceiverSecurity

#: path → (request type, response type)
SIGNALS: dict[str, tuple[type[Message], type[Message]]] = {
    "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse),
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse),
    "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
}
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP/JSON writes these ids as hex strings; protobuf's JSON mapping expects base64.
_HEX_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


class UpstreamUnavailable(Exception):
    """The upstream did not take the request; the sender should retry."""


class UpstreamRejected(Exception):
    """The upstream refused the request for good (e.g. ``INVALID_ARGUMENT``); the sender must not retry."""


Relay = Callable[[str, Message], None]


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: base64.b64encode(bytes.fromhex(value)).decode() if key in _HEX_ID_FIELDS and isinstance(value, str)
            else _hex_ids_to_base64(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def decode(body: bytes, content_type: str, message_type: type[Message]) -> Message:
    """Parse an OTLP/HTTP body; raises ``ValueError`` when it does not decode."""
    message = message_type()
    try:
        if content_type == PROTOBUF:
            message.ParseFromString(body)
        else:
            json_format.ParseDict(_hex_ids_to_base64(json.loads(body)), message)
    except (DecodeError, json_format.ParseError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"payload does not decode as {message_type.__name__}") from exc
    return message


class RejectionCounts:
    """Requests rejected, by reason (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_reason: dict[str, int] = {}

    def add(self, reason: str) -> None:
        with self._lock:
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


class _Handler(BaseHTTPRequestHandler):
    server: OTLPHttpServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30  # seconds a client may stall (handshake, headers, body)

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        """``/healthz``: the process serves; ``/readyz``: and the upstream is reachable."""
        if self.path == "/healthz":
            return self._send(200, JSON, b'{"status": "ok"}')
        if self.path == "/readyz":
            ready = self.server.ready()
            return self._send(200 if ready else 503, JSON, json.dumps({"ready": ready}).encode())
        self._send(404, JSON, b'{"code": 404, "message": "unknown path"}')

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        types = SIGNALS.get(self.path)
        if types is None:
            return self._reject(404, "not_found", "unknown path")
        if not self.server.security.authorized(self.headers.get("authorization")):
            return self._reject(401, "unauthenticated", UNAUTHENTICATED_MESSAGE, {"www-authenticate": "Bearer"})
        content_type = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type not in (PROTOBUF, JSON):
            return self._reject(415, "content_type", f"unsupported content type {content_type!r}")
        length = int(self.headers.get("content-length") or 0)
        if length > self.server.max_bytes:
            return self._reject(413, "too_large", f"body over {self.server.max_bytes} bytes")
        if not self.server.inflight.acquire(blocking=False):
            return self._reject(429, "busy", "gateway busy", {"retry-after": "1"})
        try:
            request = decode(self.rfile.read(length), content_type, types[0])
            self.server.relay(self.path, request)
        except ValueError as exc:
            return self._reject(400, "malformed", str(exc))
        except UpstreamUnavailable:
            return self._reject(503, "upstream", "upstream unavailable", {"retry-after": "5"})
        except UpstreamRejected as exc:
            return self._reject(400, "upstream_rejected", f"upstream refused the request: {exc}")
        finally:
            self.server.inflight.release()
        response = types[1]()
        body = response.SerializeToString() if content_type == PROTOBUF else b"{}"
        self._send(200, content_type, body)

    def _reject(self, status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.server.rejected.add(reason)
        if status in (401, 404, 413, 415, 429):  # the body was left unread: it must not be parsed as
            headers = {**(headers or {}), "connection": "close"}  # the next request, so close (and say so)
        self._send(status, JSON, json.dumps({"code": status, "message": message}).encode(), headers)

    def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class OTLPHttpServer(ThreadingHTTPServer):
    """The OTLP/HTTP receiver; ``relay(path, request)`` raises :class:`UpstreamUnavailable` to ask for a retry."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        relay: Relay,
        max_bytes: int,
        ready: Callable[[], bool] = lambda: True,
        security: ReceiverSecurity | None = None,
        max_inflight: int = 64,
    ) -> None:
        super().__init__(address, _Handler)
        self.inflight = threading.BoundedSemaphore(max_inflight)
        self.security = security or ReceiverSecurity()
        tls = self.security.ssl_context()
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.relay = relay
        self.ready = ready
        self.max_bytes = max_bytes
        self.rejected = RejectionCounts()
        self._thread = threading.Thread(target=self.serve_forever, name="otel-carbon-otlp-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Count a failed TLS handshake (no or untrusted client certificate) instead of printing it."""
        if isinstance(sys.exc_info()[1], (ssl.SSLError, OSError)):
            self.rejected.add("tls")
        else:
            super().handle_error(request, client_address)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
