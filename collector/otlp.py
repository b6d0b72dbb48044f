"""OTLP protobuf ↔ plain Python, and enrichment of a whole ``ExportTraceServiceRequest``."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import chain, islice
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otel_carbon import semconv as sc
from otel_carbon.processors.accountant import CarbonAccountant
from otel_carbon.processors.enrich import (
    CallCarbon,
    EnrichmentContext,
    InvalidUsage,
    accounted_for,
    enrich,
    is_genai,
    token_usage,
    uncounted,
)
from otel_carbon.processors.nesting import CallNests

_DOUBLE = struct.Struct("<d")
_MAX_CACHED = 4096


def python_value(value: AnyValue) -> Any:
    """The Python value of an ``AnyValue`` (arrays as tuples, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(python_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: python_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """Attribute key → Python value (scalars read directly: the hot path)."""
    out = {}
    for kv in attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = getattr(value, kind) if kind in _SCALAR_KINDS else python_value(value)
    return out


_SCALAR_KINDS = frozenset({"string_value", "bool_value", "int_value", "double_value"})


def any_value(value: Any) -> AnyValue:
    """An ``AnyValue`` for the attribute types enrichment writes (bool, int, float, str, sequences)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        result = AnyValue()
        result.array_value.values.extend(any_value(v) for v in value)
        return result
    return AnyValue(string_value=str(value))


# Span.attributes is field 9 (length-delimited); KeyValue: key 1, value 2; AnyValue: string 1,
# bool 2, int 3, double 4 (fixed64), array 5; ArrayValue.values 1.
_SPAN_ATTRIBUTE = b"\x4a"


def _varint(number: int) -> bytes:
    number &= 0xFFFFFFFFFFFFFFFF  # int64 two's complement, as protobuf writes negative ints
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _any_value_wire(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, (list, tuple)):
        return _delimited(b"\x2a", b"".join(_delimited(b"\x0a", _any_value_wire(v)) for v in value))
    return _delimited(b"\x0a", str(value).encode())


@lru_cache(maxsize=_MAX_CACHED)
def _key_wire(key: str) -> bytes:
    return _delimited(b"\x0a", key.encode())


@lru_cache(maxsize=_MAX_CACHED)
def _constant_attribute_wire(key: str, value: str | bool) -> bytes:
    return _attribute_wire(key, value)


def _attribute_wire(key: str, value: Any) -> bytes:
    return _delimited(_SPAN_ATTRIBUTE, _key_wire(key) + _delimited(b"\x12", _any_value_wire(value)))


@lru_cache(maxsize=_MAX_CACHED)
def _double_prefix(key: str) -> bytes:
    """Everything of a double attribute's entry before its 8 value bytes (a double's AnyValue is 9 bytes)."""
    return _attribute_wire(key, 0.0)[:-8]


def attributes_wire(attributes: Mapping[str, Any], shared: Mapping[str, Any] | None = None) -> bytes:
    """``attributes`` as the protobuf bytes of ``Span.attributes`` entries.

    ``span.MergeFromString(attributes_wire(extra))`` appends them to a decoded span in one
    C call — the same result as ``span.attributes.extend(KeyValue(...))``, without building
    a message per attribute.  Strings and booleans (zone, method, status…) are encoded once per
    value, doubles from a per-key prefix and their 8 bytes.  ``shared``: the first entries of
    ``attributes`` when they are an object reused from call to call (``CallCarbon.shared``):
    encoded once per object, and the float entries after them packed in one call.
    """
    if shared:  # the entries after the shared ones are floats (CallCarbon's contract)
        packer, prefixes = _doubles_packer(tuple(islice(attributes, len(shared), None)))
        values = islice(attributes.values(), len(shared), None)
        return _shared_wire(shared) + packer.pack(*chain.from_iterable(zip(prefixes, values)))
    return _entries_wire(attributes.items())


def _entries_wire(items: Iterable[tuple[str, Any]]) -> bytes:
    parts = []
    for key, value in items:
        kind = type(value)
        if kind is float:
            parts.append(_double_prefix(key) + _DOUBLE.pack(value))
        elif kind is str or kind is bool:
            parts.append(_constant_attribute_wire(key, value))
        else:
            parts.append(_attribute_wire(key, value))
    return b"".join(parts)


_shared_encoded: dict[int, tuple[Mapping[str, Any], bytes]] = {}


def _shared_wire(shared: Mapping[str, Any]) -> bytes:
    """The encoding of a reused attribute mapping, kept while the mapping lives (bounded)."""
    found = _shared_encoded.get(id(shared))
    if found is not None and found[0] is shared:
        return found[1]
    encoded = _entries_wire(shared.items())
    if len(_shared_encoded) >= _MAX_CACHED:
        _shared_encoded.clear()
    _shared_encoded[id(shared)] = (shared, encoded)  # holding the mapping keeps its id from being reused
    return encoded


@lru_cache(maxsize=_MAX_CACHED)
def _doubles_packer(keys: tuple[str, ...]) -> tuple[struct.Struct, tuple[bytes, ...]]:
    """A struct that writes double attributes ``keys`` (prefix, value, prefix, value…) in one call."""
    prefixes = tuple(_double_prefix(key) for key in keys)
    return struct.Struct("<" + "".join(f"{len(prefix)}sd" for prefix in prefixes)), prefixes


def _record_enriched(
    accountant: CarbonAccountant, attributes: Mapping[str, Any], resource: Mapping[str, Any], trace_id: int,
    span_id: int, end_time_ns: int,
) -> None:
    """Record a span counted upstream, from the carbon attributes it carries (malformed ones: not recorded)."""
    numbers = [attributes.get(key) for key in (sc.SCI_CARBON, sc.SCI_ENERGY, sc.SCI_INTENSITY)]
    labels = [attributes.get(key) for key in (sc.SCI_INTENSITY_ZONE, sc.SCI_INTENSITY_SOURCE, sc.SCI_ENERGY_METHOD)]
    if not all(type(n) is float and 0.0 <= n < math.inf for n in numbers) or not all(type(v) is str for v in labels):
        return
    try:
        usage = token_usage(attributes)
    except InvalidUsage:
        return
    carbon = {key: value for key, value in attributes.items() if key.startswith("sci.") or key == sc.GEN_AI_USAGE_COST}
    accountant.record(CallCarbon(carbon, usage), attributes, resource, trace_id, span_id, end_time_ns)


def _id(raw: bytes) -> int:
    return int.from_bytes(raw, "big") if raw else 0


def _span_bytes_view() -> type[Message]:
    """A message type that reads an ``ExportTraceServiceRequest`` down to each span's encoded bytes.

    Fields as in ``trace_service.proto`` / ``trace.proto`` (request.resource_spans = 1,
    ResourceSpans.scope_spans = 2, ScopeSpans.spans = 2), the spans declared ``bytes``; the
    other fields are kept as unknown fields.  Parsing a body with it costs a C-level walk and
    lets the GenAI spans be found by a byte search instead of reading every attribute key.
    """
    file = descriptor_pb2.FileDescriptorProto(
        name="otel_carbon/collector/span_bytes.proto", package=_VIEW_PACKAGE, syntax="proto3"
    )
    repeated, message, raw = (
        descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
        descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
        descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    )
    scope = file.message_type.add(name="ScopeSpanBytes")
    scope.field.add(name="spans", number=2, label=repeated, type=raw)
    resource = file.message_type.add(name="ResourceSpanBytes")
    resource.field.add(name="scope_spans", number=2, label=repeated, type=message,
                       type_name=f".{_VIEW_PACKAGE}.ScopeSpanBytes")
    request = file.message_type.add(name="TraceRequestSpanBytes")
    request.field.add(name="resource_spans", number=1, label=repeated, type=message,
                      type_name=f".{_VIEW_PACKAGE}.ResourceSpanBytes")
    pool = descriptor_pool.DescriptorPool()  # a pool of its own: nothing to clash with
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_VIEW_PACKAGE}.TraceRequestSpanBytes"))


_VIEW_PACKAGE = "otel_carbon.collector.view"
_SpanBytesRequest = _span_bytes_view()
#: Every GenAI marker key (``semconv.GENAI_MARKER_KEYS``) contains this; a span whose bytes lack it is
#: not a GenAI span.
MARKER_BYTES = b"gen_ai."


def genai_candidates(request: ExportTraceServiceRequest, body: bytes | None = None) -> list[Any]:
    """The spans of ``request`` that may be GenAI spans (a superset: each is checked by its keys).

    ``body``: the request's encoded bytes when the caller has them (else it is encoded here).
    A span whose encoding lacks ``gen_ai.`` has no GenAI marker key, so it is skipped
    without being read attribute by attribute.
    """
    if body is None:
        body = request.SerializeToString()
    if MARKER_BYTES not in body:
        return []
    view = _SpanBytesRequest.FromString(body)
    found = []
    for resource_index, resource_spans in enumerate(view.resource_spans):
        for scope_index, scope_spans in enumerate(resource_spans.scope_spans):
            spans = None
            for span_index, raw in enumerate(scope_spans.spans):
                if MARKER_BYTES in raw:
                    if spans is None:
                        spans = request.resource_spans[resource_index].scope_spans[scope_index].spans
                    found.append((resource_index, spans[span_index]))
    return found


def enrich_request(
    request: ExportTraceServiceRequest,
    context: EnrichmentContext,
    accountant: CarbonAccountant | None = None,
    nests: CallNests | None = None,
    count_enriched: bool = False,
    body: bytes | None = None,
) -> int:
    """Add carbon attributes, in place, to the GenAI spans of ``request``; return how many were counted.

    One call, one figure (:mod:`otel_carbon.processors.nesting`): every GenAI span of the
    request is noted in ``nests`` first (spans remembered from earlier requests count
    too), then each span not yet accounted for is either counted — enriched, and
    recorded by ``accountant`` (metrics, ledger) — or marked ``sci.counted=false``
    with its ``sci.carbon.status``.  Spans arriving already accounted for (our
    instrumentation, an in-process processor) are left as they are; with
    ``count_enriched`` the counted ones among them are recorded by ``accountant`` too
    (for apps that export no carbon metrics of their own).  ``body``: the encoded request,
    when the caller has it (saves encoding it again to find the GenAI spans).
    """
    nests = nests if nests is not None else CallNests()
    pending: list[tuple[Any, dict[str, Any], Mapping[str, Any], int, int]] = []
    resources: dict[int, Mapping[str, Any]] = {}
    for resource_index, span in genai_candidates(request, body):
        attributes = attributes_dict(span.attributes)
        if not is_genai(attributes):
            continue
        trace_id, span_id = _id(span.trace_id), _id(span.span_id)
        counted_upstream = attributes.get(sc.SCI_COUNTED) is True
        nests.note(trace_id, span_id, _id(span.parent_span_id), counted=counted_upstream)
        resource = resources.get(resource_index)
        if resource is None:
            resource = resources[resource_index] = attributes_dict(
                request.resource_spans[resource_index].resource.attributes
            )
        if counted_upstream and count_enriched and accountant is not None:
            _record_enriched(accountant, attributes, resource, trace_id, span_id, span.end_time_unix_nano)
        if accounted_for(attributes):
            continue
        pending.append((span, attributes, resource, trace_id, span_id))
    counted = 0
    for span, attributes, resource, trace_id, span_id in pending:
        if nests.is_duplicate(trace_id, span_id):
            result = uncounted(sc.STATUS_DUPLICATE)
            if accountant is not None:
                accountant.record_duplicate()
        else:
            result = enrich(attributes, resource, context)
            if result.counted:
                nests.mark_counted(trace_id, span_id)
                counted += 1
            if accountant is not None:
                accountant.record(result, attributes, resource, trace_id, span_id, span.end_time_unix_nano)
        span.MergeFromString(attributes_wire(result.attributes, result.shared))
    return counted
