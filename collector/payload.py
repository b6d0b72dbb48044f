"""OTLP payloads: the three signals' message types, decoding and validation.

Shared by both receivers and the forwarder; no server library here.  A
payload is accepted only if it decodes as the signal's export request *and*
its ids have OTLP's lengths (trace id 16 bytes, span id 8 bytes, or empty):
the OpenTelemetry Collector refuses other lengths, so forwarding them would
only move the failure upstream.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from otel_carbon.collector.id_lengths import have_otlp_lengths

#: signal → (request type, response type)
SIGNALS: dict[str, tuple[type[Message], type[Message]]] = {
    "traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse),
    "metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse),
    "logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
}
#: signal → the OTLP collector's gRPC service name
SERVICES = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
}
_SIGNAL_OF = {request: signal for signal, (request, _) in SIGNALS.items()}
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
#: OTLP/JSON id fields: written as hex, where protobuf's JSON mapping expects base64.
_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})
#: Bytes in a trace id and a span id (either may also be empty).
TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8


class MalformedPayload(ValueError):
    """The payload does not decode, or is not a valid OTLP request; the message says why (no payload bytes)."""


#: ``relay(signal, request, body)``: enrich and forward (``body``: the protobuf bytes as received, or
#: ``None``); raises :mod:`.errors`' upstream exceptions.
Relay = Callable[[str, Message, bytes | None], None]


def _hex_ids_to_base64(node: Any) -> Any:
    """A copy of an OTLP/JSON tree with its hex ids in base64 (their lengths are :func:`check_ids`' to judge);
    :class:`MalformedPayload` for an id that is not hexadecimal."""
    if isinstance(node, dict):
        converted = {}
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    converted[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise MalformedPayload(f"{key} is not hexadecimal (two digits per byte)") from None
            else:
                converted[key] = _hex_ids_to_base64(value)
        return converted
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def decode(body: bytes, content_type: str, message_type: type[Message]) -> Message:
    """Parse an OTLP/HTTP body (``PROTOBUF`` or ``JSON``); :class:`MalformedPayload` when it is not a valid request."""
    message = message_type()
    try:
        if content_type == PROTOBUF:
            message.ParseFromString(body)
        else:
            tree = json.loads(body)
            if not isinstance(tree, dict):
                raise MalformedPayload(f"an OTLP/JSON body is an object, got {type(tree).__name__}")
            json_format.ParseDict(_hex_ids_to_base64(tree), message)
    except MalformedPayload:
        raise
    except RecursionError:
        raise MalformedPayload("payload nested too deeply") from None
    except (DecodeError, json_format.ParseError, ValueError, TypeError, binascii.Error) as exc:
        raise MalformedPayload(f"payload does not decode as {message_type.__name__}") from exc
    if content_type != PROTOBUF or not have_otlp_lengths(_SIGNAL_OF[message_type], body):
        check_ids(message)  # id by id: names the id that is wrong (JSON bodies: always)
    return message


def _check(value: bytes, size: int, what: str) -> None:
    if len(value) not in (0, size):
        raise MalformedPayload(f"{what} must be {size} bytes ({2 * size} hex digits in OTLP/JSON) or empty, "
                               f"got {len(value)}")


def check_ids(request: Message) -> None:
    """:class:`MalformedPayload` naming the first id of the wrong length in a span, span link or log record of
    ``request`` (the only id length check, for protobuf and OTLP/JSON alike)."""
    if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    _check(span.trace_id, TRACE_ID_BYTES, "span trace id")
                    _check(span.span_id, SPAN_ID_BYTES, "span id")
                    _check(span.parent_span_id, SPAN_ID_BYTES, "parent span id")
                    for link in span.links:
                        _check(link.trace_id, TRACE_ID_BYTES, "span link trace id")
                        _check(link.span_id, SPAN_ID_BYTES, "span link span id")
    elif isinstance(request, logs_service_pb2.ExportLogsServiceRequest):
        for resource_logs in request.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    _check(record.trace_id, TRACE_ID_BYTES, "log record trace id")
                    _check(record.span_id, SPAN_ID_BYTES, "log record span id")


def item_count(signal: str, request: Any) -> int:
    """Spans, metrics or log records in an OTLP export request."""
    if signal == "traces":
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    if signal == "metrics":
        return sum(len(s.metrics) for r in request.resource_metrics for s in r.scope_metrics)
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


class RejectionCounts:
    """Requests rejected, by reason (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_reason: dict[str, int] = {}

    def add(self, reason: str) -> None:
        with self._lock:
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
