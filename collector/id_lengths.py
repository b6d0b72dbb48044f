"""OTLP id lengths, checked without visiting spans one by one in Python.

A request is parsed with a view that keeps only the ids of its spans (trace id, span id,
parent span id) or log records (trace id, span id); ``DiscardUnknownFields`` drops everything
else, and each scope is written back in protobuf's canonical form: its spans or records one
after the other, each as its field tag, its length and its ids in field order (an empty id is
not written).  With OTLP's lengths only, that form holds a few exact shapes per element — say,
for a span with all three ids, ``12 26 0a 10 <16 bytes> 12 08 <8 bytes> 22 08 <8 bytes>`` — and
each shape's length byte is its content's length, so a regular expression that matches the
whole scope reads the same element boundaries as protobuf does.  No match (a wrong length, or
a span with links, which the shapes leave out) tells the caller to check id by id
(:func:`otel_carbon.collector.payload.check_ids`), which names the id that is wrong.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from otel_carbon.collector.views import message_types

#: Per signal: the element's field tag in its scope, then (field tag, id bytes) of its ids in field order.
_SHAPES: dict[str, tuple[int, Sequence[tuple[int, int]]]] = {
    "traces": (0x12, ((0x0A, 16), (0x12, 8), (0x22, 8))),  # Span: trace_id 1, span_id 2, parent_span_id 4
    "logs": (0x12, ((0x4A, 16), (0x52, 8))),  # LogRecord: trace_id 9, span_id 10
}


def _elements_pattern(element_tag: int, ids: Sequence[tuple[int, int]]) -> re.Pattern[bytes]:
    """Any number of elements, each with every subset of ``ids`` at their lengths (length byte included)."""
    shapes = []
    for present in itertools.product((False, True), repeat=len(ids)):
        fields = [(tag, size) for (tag, size), here in zip(ids, present) if here]
        length = sum(2 + size for _, size in fields)
        shapes.append(re.escape(bytes([element_tag, length])) + b"".join(
            re.escape(bytes([tag, size])) + b".{%d}" % size for tag, size in fields))
    return re.compile(b"(?:" + b"|".join(shapes) + b")*", re.DOTALL)


#: Per signal, the view of its export request that keeps only the ids (``trace.proto``: Span trace_id 1,
#: span_id 2, parent_span_id 4, links 13 — read so that their presence shows —, Link trace_id 1,
#: span_id 2; ``logs.proto``: LogRecord trace_id 9, span_id 10; each level's repeated field 1 or 2).
_ID_VIEWS = message_types("otel_carbon.collector.id_views", {
    "LinkIds": [("trace_id", 1, "bytes"), ("span_id", 2, "bytes")],
    "SpanIds": [("trace_id", 1, "bytes"), ("span_id", 2, "bytes"), ("parent_span_id", 4, "bytes"),
                ("links", 13, "repeated LinkIds")],
    "ScopeSpanIds": [("spans", 2, "repeated SpanIds")],
    "ResourceSpanIds": [("scope_spans", 2, "repeated ScopeSpanIds")],
    "TraceRequestIds": [("resource_spans", 1, "repeated ResourceSpanIds")],
    "LogRecordIds": [("trace_id", 9, "bytes"), ("span_id", 10, "bytes")],
    "ScopeLogIds": [("log_records", 2, "repeated LogRecordIds")],
    "ResourceLogIds": [("scope_logs", 2, "repeated ScopeLogIds")],
    "LogsRequestIds": [("resource_logs", 1, "repeated ResourceLogIds")],
})
_VIEWS = {"traces": _ID_VIEWS["TraceRequestIds"], "logs": _ID_VIEWS["LogsRequestIds"]}
#: Per signal: the request's resource field and the resource's scope field.
_LEVELS = {"traces": ("resource_spans", "scope_spans"), "logs": ("resource_logs", "scope_logs")}
_PATTERNS = {signal: _elements_pattern(*shape) for signal, shape in _SHAPES.items()}


def have_otlp_lengths(signal: str, body: bytes) -> bool:
    """Whether every id in the encoded ``traces`` or ``logs`` export request ``body`` (which decodes) is
    empty or has OTLP's length (trace id 16 bytes, span id 8); ``False`` also for spans with links
    (check those id by id).  Requests of other signals have no ids: ``True``."""
    if signal not in _VIEWS:
        return True
    request = _VIEWS[signal].FromString(body)
    request.DiscardUnknownFields()
    pattern = _PATTERNS[signal]
    resources, scopes = _LEVELS[signal]
    return all(pattern.fullmatch(scope.SerializeToString())
               for resource in getattr(request, resources) for scope in getattr(resource, scopes))
