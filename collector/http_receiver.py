"""OTLP/HTTP receiver (``/v1/traces``, ``/v1/metrics``, ``/v1/logs``), protobuf and JSON.

Requests are decoded, handed to the gateway's relay function (which enriches
traces and forwards upstream), and answered in the request's encoding.
``GET /healthz`` and ``GET /readyz`` (upstream reachable) serve probes.
Rejections follow the OTLP/HTTP specification: 415 for an unsupported content
type, 400 for a payload that does not decode, 413 above the size limit, 503
with ``Retry-After`` when the upstream is unavailable (retryable).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

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
        content_type = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type not in (PROTOBUF, JSON):
            return self._reject(415, "content_type", f"unsupported content type {content_type!r}")
        length = int(self.headers.get("content-length") or 0)
        if length > self.server.max_bytes:
            return self._reject(413, "too_large", f"body over {self.server.max_bytes} bytes")
        try:
            request = decode(self.rfile.read(length), content_type, types[0])
        except ValueError as exc:
            return self._reject(400, "malformed", str(exc))
        try:
            self.server.relay(self.path, request)
        except UpstreamUnavailable:
            return self._reject(503, "upstream", "upstream unavailable", retry_after_s=5)
        response = types[1]()
        body = response.SerializeToString() if content_type == PROTOBUF else b"{}"
        self._send(200, content_type, body)

    def _reject(self, status: int, reason: str, message: str, retry_after_s: int | None = None) -> None:
        self.server.rejected.add(reason)
        headers = {"retry-after": str(retry_after_s)} if retry_after_s else {}
        self._send(status, JSON, json.dumps({"code": status, "message": message}).encode(), headers)
        if status in (413, 415):
            self.close_connection = True  # the unread body must not be parsed as the next request

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
        self, address: tuple[str, int], relay: Relay, max_bytes: int, ready: Callable[[], bool] = lambda: True
    ) -> None:
        super().__init__(address, _Handler)
        self.relay = relay
        self.ready = ready
        self.max_bytes = max_bytes
        self.rejected = RejectionCounts()
        self._thread = threading.Thread(target=self.serve_forever, name="otel-carbon-otlp-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
