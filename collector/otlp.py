"""Enrichment of a whole encoded ``ExportTraceServiceRequest``: read through views, written by appending bytes."""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from itertools import compress, repeat
from typing import Any, NamedTuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from otel_carbon import semconv as sc
from otel_carbon._extras import MissingExtraError
from otel_carbon.collector.wire import attributes_wire, python_value
from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.processors.accountant import CarbonAccountant
from otel_carbon.processors.enrich import (
    CallCarbon,
    EnrichmentContext,
    InvalidUsage,
    PreparedCall,
    accounted_for,
    costed,
    is_genai,
    prepare,
    token_usage,
    uncounted,
)
from otel_carbon.processors.nesting import CallNests, SpanKey

try:
    from otel_carbon.collector.columns import MIN_CALLS, CostedColumns
except MissingExtraError:  # numpy (the 'collector' extra); without it each call is costed alone
    CostedColumns = None  # type: ignore[assignment,misc]


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


class _DecodedEntries(dict):  # type: ignore[type-arg]
    """Encoded ``KeyValue`` → its (key, Python value), decoded once (short entries kept: names, counts).

    A GenAI span's attribute entries repeat from span to span (provider, model, operation, token
    counts), so its attributes are read as one ``dict`` built in C from kept pairs.  Long entries
    (prompts, when captured) are decoded every time and never kept; the table is cleared when full
    (at most :data:`_MAX_KEPT_ENTRIES` entries of :data:`_MAX_KEPT_ENTRY_BYTES`: a few MB).
    """

    def __missing__(self, raw: bytes) -> tuple[str, Any]:
        entry = KeyValue.FromString(raw)
        pair = (entry.key, python_value(entry.value))
        if len(raw) <= _MAX_KEPT_ENTRY_BYTES:
            if len(self) >= _MAX_KEPT_ENTRIES:
                self.clear()
            self[raw] = pair
        return pair


_MAX_KEPT_ENTRY_BYTES = 96
_MAX_KEPT_ENTRIES = 32768
_decoded_entries = _DecodedEntries()


def _wire_attributes(entries: Sequence[bytes]) -> dict[str, Any]:
    """Attribute key → Python value, from a view's encoded ``KeyValue`` entries (a later key wins, as
    protobuf's)."""
    return dict(map(_decoded_entries.__getitem__, entries[:]))  # a slice: one C-level copy of the container


def _views() -> tuple[type[Message], type[Message], type[Message]]:
    """Message types that read an ``ExportTraceServiceRequest`` without decoding its spans.

    The request view has the fields of ``trace_service.proto`` / ``trace.proto`` down to
    ``ScopeSpans.spans``, with each span, resource, scope and schema URL declared ``bytes``:
    parsing a body with it is a C-level walk, a span is found by a byte search and changed
    by appending bytes, and serialising it writes everything else back as it came.  The span
    view reads what enrichment needs of one span: ids, end time, and each attribute's encoded
    ``KeyValue``; the resource view reads a resource's attributes the same way.
    """
    file = descriptor_pb2.FileDescriptorProto(
        name="otel_carbon/collector/trace_views.proto", package=_VIEW_PACKAGE, syntax="proto3"
    )
    field = descriptor_pb2.FieldDescriptorProto
    repeated, optional = field.LABEL_REPEATED, field.LABEL_OPTIONAL
    message, raw, fixed64 = field.TYPE_MESSAGE, field.TYPE_BYTES, field.TYPE_FIXED64

    scope = file.message_type.add(name="ScopeSpansView")
    scope.field.add(name="scope", number=1, label=optional, type=raw)
    scope.field.add(name="spans", number=2, label=repeated, type=raw)
    scope.field.add(name="schema_url", number=3, label=optional, type=raw)
    resource = file.message_type.add(name="ResourceSpansView")
    resource.field.add(name="resource", number=1, label=optional, type=raw)
    resource.field.add(name="scope_spans", number=2, label=repeated, type=message,
                       type_name=f".{_VIEW_PACKAGE}.ScopeSpansView")
    resource.field.add(name="schema_url", number=3, label=optional, type=raw)
    request = file.message_type.add(name="TraceRequestView")
    request.field.add(name="resource_spans", number=1, label=repeated, type=message,
                      type_name=f".{_VIEW_PACKAGE}.ResourceSpansView")
    span = file.message_type.add(name="SpanView")
    span.field.add(name="trace_id", number=1, label=optional, type=raw)
    span.field.add(name="span_id", number=2, label=optional, type=raw)
    span.field.add(name="parent_span_id", number=4, label=optional, type=raw)
    span.field.add(name="end_time_unix_nano", number=8, label=optional, type=fixed64)
    span.field.add(name="attributes", number=9, label=repeated, type=raw)
    resource_attributes = file.message_type.add(name="ResourceView")
    resource_attributes.field.add(name="attributes", number=1, label=repeated, type=raw)
    pool = descriptor_pool.DescriptorPool()  # a pool of its own: nothing to clash with
    pool.Add(file)
    return tuple(  # type: ignore[return-value]
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_VIEW_PACKAGE}.{name}"))
        for name in ("TraceRequestView", "SpanView", "ResourceView")
    )


_VIEW_PACKAGE = "otel_carbon.collector.view"
_TraceRequestView, _SpanView, _ResourceView = _views()
#: Every GenAI marker key (``semconv.GENAI_MARKER_KEYS``) contains this; a span whose bytes lack it is
#: not a GenAI span.
MARKER_BYTES = b"gen_ai."


class EnrichedBody(NamedTuple):
    """An ``ExportTraceServiceRequest``'s protobuf bytes after enrichment, and the GenAI spans counted in it."""

    body: bytes
    counted: int


class _GenAISpan(NamedTuple):
    """A GenAI span of the request, not yet accounted for."""

    spans: Any  # the view's repeated span bytes holding it
    position: int  # in ``spans``
    raw: bytes
    attributes: dict[str, Any]
    resource: Mapping[str, Any]
    key: SpanKey  # (trace id, span id)
    end_time_ns: int


def enrich_body(
    body: bytes,
    context: EnrichmentContext,
    accountant: CarbonAccountant | None = None,
    nests: CallNests | None = None,
    count_enriched: bool = False,
) -> EnrichedBody:
    """Add carbon attributes to the GenAI spans of an encoded ``ExportTraceServiceRequest``.

    ``body`` must decode as one (the receivers check it first).  Only spans whose bytes
    contain ``gen_ai.`` are read, and only their ids and attributes; the carbon attributes
    are appended to a span's bytes (a repeated field may be written in several pieces),
    everything else is written back as it came.  Without a span to change, ``body`` itself
    is returned.

    One call, one figure (:mod:`otel_carbon.processors.nesting`): every GenAI span of the
    request is noted in ``nests`` first (spans remembered from earlier requests count
    too), then each span not yet accounted for is either counted — enriched, and
    recorded by ``accountant`` (metrics, ledger) — or marked ``sci.counted=false``
    with its ``sci.carbon.status``.  Spans arriving already accounted for (our
    instrumentation, an in-process processor) are left as they are; with
    ``count_enriched`` the counted ones among them are recorded by ``accountant`` too
    (for apps that export no carbon metrics of their own).  Estimated calls of one plan
    at one intensity reading are costed together (:mod:`.columns`, with numpy), the
    others one by one; both give the same values, to the last bit.
    """
    if MARKER_BYTES not in body:
        return EnrichedBody(body, 0)
    enrichment = _Enrichment(context, accountant, nests if nests is not None else CallNests())
    request = _TraceRequestView.FromString(body)
    pending = enrichment.read(request, count_enriched)
    if not pending:
        return EnrichedBody(body, 0)
    enrichment.cost(pending)
    return EnrichedBody(request.SerializeToString(), enrichment.counted)


class _Enrichment:
    """The enrichment of one request: its GenAI spans read, costed and written back."""

    def __init__(self, context: EnrichmentContext, accountant: CarbonAccountant | None, nests: CallNests) -> None:
        self.context = context
        self.accountant = accountant
        self.nests = nests
        self.counted = 0  #: GenAI spans counted so far

    def read(self, request: Message, count_enriched: bool) -> list[_GenAISpan]:
        """The request's GenAI spans not yet accounted for; every GenAI span is noted in the memory of
        spans (and, with ``count_enriched``, those counted upstream are recorded)."""
        pending, noted = [], []
        from_bytes = int.from_bytes
        new_tuple = tuple.__new__  # a named tuple built in C (its own __new__ is Python: 4× slower)
        for resource_spans in request.resource_spans:
            resource: dict[str, Any] | None = None
            for scope_spans in resource_spans.scope_spans:
                spans = scope_spans.spans
                raws = spans[:]  # one C-level copy; the candidates are then found by a byte search each
                for index in compress(range(len(raws)), map(operator.contains, raws, repeat(MARKER_BYTES))):
                    raw = raws[index]
                    span = _SpanView.FromString(raw)
                    attributes = _wire_attributes(span.attributes)
                    if not is_genai(attributes):
                        continue
                    if resource is None:
                        resource = _wire_attributes(_ResourceView.FromString(resource_spans.resource).attributes)
                    key = (from_bytes(span.trace_id, "big"), from_bytes(span.span_id, "big"))  # empty: 0
                    counted_upstream = attributes.get(sc.SCI_COUNTED) is True
                    noted.append((*key, from_bytes(span.parent_span_id, "big"), counted_upstream))
                    if counted_upstream and count_enriched and self.accountant is not None:
                        _record_enriched(self.accountant, attributes, resource, *key, span.end_time_unix_nano)
                    if not accounted_for(attributes):
                        pending.append(new_tuple(_GenAISpan, (spans, index, raw, attributes, resource, key,
                                                              span.end_time_unix_nano)))
        self.nests.note_all(noted)  # every GenAI span of the request before any is judged a duplicate
        return pending

    def cost(self, pending: list[_GenAISpan]) -> None:
        """Count or mark each span of ``pending`` and append its carbon attributes; estimated calls sharing
        a plan, a reading and ``keep_cost`` are costed together."""
        context = self.context
        together: dict[tuple[int, int, bool], tuple[IntensityReading, list[tuple[_GenAISpan, PreparedCall]]]] = {}
        for call, duplicate in zip(pending, self.nests.duplicates([call.key for call in pending])):
            if duplicate:
                if self.accountant is not None:
                    self.accountant.record_duplicate()
                call.spans[call.position] = call.raw + attributes_wire(uncounted(sc.STATUS_DUPLICATE).attributes)
                continue
            prepared = prepare(call.attributes, call.resource, context)
            if isinstance(prepared, CallCarbon):
                self.write(call, prepared)
                continue
            reading = context.intensity.lookup(prepared.plan.zone)
            if prepared.measured is not None:
                self.write(call, costed(prepared, reading))
                continue
            key = (id(prepared.plan), id(reading), prepared.keep_cost)
            group = together.get(key)
            if group is None:
                group = together[key] = (reading, [])
            group[1].append((call, prepared))
        for reading, members in together.values():
            if CostedColumns is None or len(members) < MIN_CALLS:
                for call, prepared in members:
                    self.write(call, costed(prepared, reading))
            else:
                self.write_together(reading, members)

    def write(self, call: _GenAISpan, result: CallCarbon) -> None:
        """Count and record one call's ``result``, and append its attributes to its span."""
        if result.counted:
            self.nests.mark_counted(*call.key)
            self.counted += 1
        if self.accountant is not None:
            self.accountant.record(result, call.attributes, call.resource, *call.key, call.end_time_ns)
        call.spans[call.position] = call.raw + attributes_wire(result.attributes, result.shared)

    def write_together(self, reading: IntensityReading, members: list[tuple[_GenAISpan, PreparedCall]]) -> None:
        """:meth:`write` for estimated calls of one plan at ``reading``, costed as columns."""
        first = members[0][1]
        columns = CostedColumns(first.plan, reading, first.keep_cost, [prepared.usage for _, prepared in members])
        counted = []
        for index, ((call, prepared), wire) in enumerate(zip(members, columns.attributes_wires())):
            if wire is None:  # a value would be non-finite or negative: costed alone, which says so
                self.write(call, costed(prepared, reading))
                continue
            if self.accountant is not None:
                self.accountant.record(columns.result(index), call.attributes, call.resource, *call.key,
                                       call.end_time_ns)
            call.spans[call.position] = call.raw + wire
            counted.append(call.key)
        self.nests.mark_all_counted(counted)
        self.counted += len(counted)
