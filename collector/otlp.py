"""Enrichment of a whole encoded ``ExportTraceServiceRequest``: read through views, written by appending bytes."""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Mapping, Sequence
from itertools import compress, repeat
from typing import Any, NamedTuple

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from otel_carbon import semconv as sc
from otel_carbon._extras import MissingExtraError
from otel_carbon._log import log_once
from otel_carbon.collector.views import message_types
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

_logger = logging.getLogger(__name__)


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
    (prompts, when captured) and per-call ids are decoded every time and never kept; the table is
    cleared when full (at most :data:`_MAX_KEPT_ENTRIES` entries of at most
    :data:`_MAX_KEPT_ENTRY_BYTES`: a few MB).
    """

    def __missing__(self, raw: bytes) -> tuple[str, Any]:
        entry = KeyValue.FromString(raw)
        pair = (entry.key, python_value(entry.value))
        if len(raw) <= _MAX_KEPT_ENTRY_BYTES and entry.key not in _UNIQUE_PER_CALL:
            if len(self) >= _MAX_KEPT_ENTRIES:
                self.clear()
            self[raw] = pair
        return pair


_MAX_KEPT_ENTRY_BYTES = 96
#: Attributes whose value is new with every call: never kept (they would only push out the others).
_UNIQUE_PER_CALL = frozenset({sc.GEN_AI_RESPONSE_ID})
_MAX_KEPT_ENTRIES = 32768
_decoded_entries = _DecodedEntries()


def _wire_attributes(entries: Sequence[bytes]) -> dict[str, Any]:
    """Attribute key → Python value, from a view's encoded ``KeyValue`` entries (a later key wins, as
    protobuf's)."""
    return dict(map(_decoded_entries.__getitem__, entries[:]))  # a slice: one C-level copy of the container


#: The views enrichment reads a trace request with (``trace_service.proto``, ``trace.proto``,
#: ``resource.proto`` field numbers).  The request view goes down to the spans, each span declared
#: ``bytes``: a span is found by a byte search and changed by appending bytes, and writing the view
#: back writes everything else as it came.  A resource or scope may come in several pieces (protobuf
#: merges them), so those are ``repeated bytes``: every piece is read, and written back.  The span view
#: reads what enrichment needs of one span: ids, end time and each attribute's encoded ``KeyValue``;
#: the resource view, a resource's attributes the same way.
_VIEWS = message_types("otel_carbon.collector.trace_views", {
    "ScopeSpansView": [("scope", 1, "repeated bytes"), ("spans", 2, "repeated bytes"), ("schema_url", 3, "bytes")],
    "ResourceSpansView": [("resource", 1, "repeated bytes"), ("scope_spans", 2, "repeated ScopeSpansView"),
                          ("schema_url", 3, "bytes")],
    "TraceRequestView": [("resource_spans", 1, "repeated ResourceSpansView")],
    "SpanView": [("trace_id", 1, "bytes"), ("span_id", 2, "bytes"), ("parent_span_id", 4, "bytes"),
                 ("end_time_unix_nano", 8, "fixed64"), ("attributes", 9, "repeated bytes")],
    "ResourceView": [("attributes", 1, "repeated bytes")],
})
_TraceRequestView, _SpanView, _ResourceView = (_VIEWS[name] for name in ("TraceRequestView", "SpanView", "ResourceView"))
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
    prepared: PreparedCall | CallCarbon  # :func:`prepare`'s answer


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
        #: Per span read and not accounted for: (its key, whether it can be counted), for :meth:`CallNests.claim`.
        self.claims: list[tuple[SpanKey, bool]] = []

    def read(self, request: Message, count_enriched: bool) -> list[_GenAISpan]:
        """The request's GenAI spans not yet accounted for; every GenAI span is noted in the memory of
        spans (and, with ``count_enriched``, those counted upstream are recorded)."""
        pending, noted = [], []
        context = self.context
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
                    if resource is None:  # its pieces, joined, parse as one merged resource
                        resource = _wire_attributes(
                            _ResourceView.FromString(b"".join(resource_spans.resource)).attributes)
                    trace_id, span_id = from_bytes(span.trace_id, "big"), from_bytes(span.span_id, "big")  # empty: 0
                    key = (trace_id, span_id)
                    counted_upstream = attributes.get(sc.SCI_COUNTED) is True
                    noted.append((trace_id, span_id, from_bytes(span.parent_span_id, "big"), counted_upstream))
                    if counted_upstream and count_enriched and self.accountant is not None:
                        _record_enriched(self.accountant, attributes, resource, *key, span.end_time_unix_nano)
                    if not accounted_for(attributes):
                        prepared = prepare(attributes, resource, context)
                        pending.append(new_tuple(_GenAISpan, (spans, index, raw, attributes, resource, key,
                                                              span.end_time_unix_nano, prepared)))
                        self.claims.append((key, type(prepared) is PreparedCall))
        self.nests.note_all(noted)  # every GenAI span of the request before any is judged a duplicate
        return pending

    def cost(self, pending: list[_GenAISpan]) -> None:
        """Count or mark each span of ``pending`` and append its carbon attributes, in request order.

        The batch is judged against the memory of spans, countable (prepared) calls claimed as
        counted at once (:meth:`CallNests.claim`); estimated calls sharing a plan, a reading and
        ``keep_cost`` are costed together.  Then each span is recorded and written, in the order it
        came; a failure there leaves that span as it came (logged once).
        """
        context = self.context
        duplicates = self.nests.claim(self.claims)
        outcomes: list[_Outcome | None] = [_DUPLICATE] * len(pending)
        alone: list[int] = []  # prepared calls costed one by one (which may turn out not counted)
        together: dict[tuple[int, int, bool], tuple[IntensityReading, list[tuple[int, PreparedCall]]]] = {}
        last: tuple[Any, ...] = (None, None, None, [])  # the group of the call before: plan, reading, keep_cost
        for position, (call, duplicate) in enumerate(zip(pending, duplicates)):
            one = call.prepared
            if duplicate:
                continue
            if not isinstance(one, PreparedCall):
                outcomes[position] = one  # not counted, and why
                continue
            reading = context.intensity.lookup(one.plan.zone)
            if one.measured is not None or CostedColumns is None:
                outcomes[position] = costed(one, reading)
                alone.append(position)
                continue
            plan, keep_cost = one.plan, one.keep_cost
            if plan is last[0] and reading is last[1] and keep_cost is last[2]:  # the usual case: as the call before
                last[3].append((position, one))
                continue
            key = (id(plan), id(reading), keep_cost)
            group = together.get(key)
            if group is None:
                group = together[key] = (reading, [])
            group[1].append((position, one))
            last = (plan, reading, keep_cost, group[1])
        for reading, members in together.values():
            if len(members) < MIN_CALLS:
                for position, one in members:
                    outcomes[position] = costed(one, reading)
                    alone.append(position)
                continue
            first = members[0][1]
            columns = CostedColumns(first.plan, reading, first.keep_cost, [one.usage for _, one in members])
            for index, ((position, one), wire) in enumerate(zip(members, columns.attributes_wires())):
                if wire is None:  # a value would be non-finite or negative: costed alone, which says so
                    outcomes[position] = costed(one, reading)
                    alone.append(position)
                elif self.accountant is not None:  # recorded in request order, below
                    outcomes[position] = (columns, index, wire)
                else:  # nothing to record: written now
                    call = pending[position]
                    call.spans[call.position] = call.raw + wire
                    self.counted += 1
                    outcomes[position] = None
        self.nests.unmark_counted([pending[position].key for position in alone
                                   if isinstance(outcome := outcomes[position], CallCarbon) and not outcome.counted])
        # Then each outcome not written yet, in request order.
        for call, outcome in zip(pending, outcomes):
            if outcome is None:  # written already
                continue
            try:
                self.write(call, outcome)
            except Exception:  # noqa: BLE001 - the span goes out as it came; the others are written
                log_once(_logger, "collector.write", "otel-carbon collector could not write a span's carbon",
                         exc_info=True)

    def write(self, call: _GenAISpan, outcome: _Outcome) -> None:
        """Record one call's outcome (counted or why not), and append its attributes to its span."""
        accountant = self.accountant
        if isinstance(outcome, CallCarbon):
            if outcome is _DUPLICATE:
                if accountant is not None:
                    accountant.record_duplicate()
            else:
                if accountant is not None:
                    accountant.record(outcome, call.attributes, call.resource, *call.key, call.end_time_ns)
                self.counted += outcome.counted
            call.spans[call.position] = call.raw + attributes_wire(outcome.attributes, outcome.shared)
            return
        columns, index, wire = outcome
        if accountant is not None:
            accountant.record(columns.result(index), call.attributes, call.resource, *call.key, call.end_time_ns)
        self.counted += 1
        call.spans[call.position] = call.raw + wire


#: What becomes of one GenAI span: a :class:`CallCarbon` (counted, or why not), or its place among
#: calls costed together (the columns, its index there, its encoded attributes).
_Outcome = CallCarbon | tuple[Any, int, bytes]
_DUPLICATE = uncounted(sc.STATUS_DUPLICATE)
