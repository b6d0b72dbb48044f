"""``CarbonSpanProcessor``: wraps the export processor and hands it carbon-enriched spans.

In SDK ≥ 1.43 a span is frozen before any processor's ``on_end`` runs, so the
carbon attributes cannot be written onto it.  Instead this processor sits in
front of the export processor::

    provider.add_span_processor(CarbonSpanProcessor(BatchSpanProcessor(exporter)))

and passes it a ``ReadableSpan`` copy carrying the extra ``sci.*`` attributes.
Spans that are not GenAI calls are passed through untouched.  Nothing here
raises into the application: a failure is logged once and the original span
is exported as it was.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage as baggage_api
from opentelemetry import context as otel_context
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider, get_meter_provider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.util.types import Attributes

from otel_carbon import accounting
from otel_carbon import semconv as sc
from otel_carbon._log import log_once
from otel_carbon.accounting import INSIDE_COUNTED_CALL
from otel_carbon.config import CarbonSettings
from otel_carbon.intensity import IntensityCache, build_intensity
from otel_carbon.ledger import LedgerSink, ledger_sink
from otel_carbon.processors.accountant import CarbonAccountant
from otel_carbon.processors.enrich import CallCarbon, EnrichmentContext, accounted_for, enrich, is_genai, uncounted
from otel_carbon.processors.nesting import CallNests

_logger = logging.getLogger(__name__)

# Spans whose baggage is held between on_start and on_end; beyond this, the
# oldest is forgotten (a span that never ends must not leak memory).
_MAX_PENDING_BAGGAGE = 10_000
# GenAI spans remembered for the one-call-one-figure rule (in-process: the live ones and recent ones).
_NEST_MEMORY = 10_000


class CarbonSpanProcessor(SpanProcessor):
    """Enrich GenAI spans with energy and carbon, then forward them to ``span_processor``.

    ``settings`` default to :meth:`CarbonSettings.from_env`.  Without a
    ``context`` the processor builds its own intensity cache from the settings
    (live providers when configured, else the static table) and closes it on
    ``shutdown``; a ``context`` lets a caller share one catalogue and cache
    between processors (the caller then owns the cache).

    Counting: calls traced by our instrumentations are counted by the
    ``accountant`` at the end of the call, sampled or not; their spans arrive
    here already carrying ``sci.*`` and pass through.  Spans of other GenAI
    instrumentations are counted here, one per call (:mod:`.nesting`).  Without
    an ``accountant`` the processor makes one — carbon metrics on
    ``meter_provider`` (default: the global one) unless ``settings.metrics`` is
    false, line items to ``settings.ledger`` when set (written in the background,
    closed on ``shutdown``) — and installs it as the process's (``otel_carbon.accounting``) until
    ``shutdown``.
    """

    def __init__(
        self,
        span_processor: SpanProcessor,
        *,
        settings: CarbonSettings | None = None,
        context: EnrichmentContext | None = None,
        meter_provider: MeterProvider | None = None,
        accountant: CarbonAccountant | None = None,
    ) -> None:
        self._owned_intensity: IntensityCache | None = None
        if context is None:
            context = accountant.context if accountant is not None else None
        if context is None:
            settings = settings or CarbonSettings.from_env()
            self._owned_intensity = build_intensity(settings, meter_provider=meter_provider)
            context = EnrichmentContext(settings=settings, intensity=self._owned_intensity)
        self._installed: CarbonAccountant | None = None
        self._owned_sink: LedgerSink | None = None
        if accountant is None:
            self._owned_sink = ledger_sink(context.settings)
            if self._owned_sink is not None and context.settings.metrics:
                self._owned_sink.register_metrics(meter_provider or get_meter_provider())
            sinks = (self._owned_sink,) if self._owned_sink is not None else ()
            accountant = self._installed = CarbonAccountant(context, meter_provider=meter_provider, sinks=sinks)
            accounting.install(accountant)
        self._inner = span_processor
        self._inner_on_ending = getattr(span_processor, "_on_ending", None)  # SDK >= 1.43
        self._context = context
        self._accountant = accountant
        self._dimension_keys = context.settings.dimensions
        self._nests = CallNests(_NEST_MEMORY)
        self._inside: dict[tuple[int, int], None] = {}  # spans started inside a call we count
        self._baggage: dict[int, dict[str, Any]] = {}
        self._resource: tuple[Resource, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    @property
    def span_processor(self) -> SpanProcessor:
        """The wrapped export processor."""
        return self._inner

    @property
    def accountant(self) -> CarbonAccountant:
        """Where this processor's calls are counted."""
        return self._accountant

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if otel_context.get_value(INSIDE_COUNTED_CALL, parent_context) and span.context is not None:
            self._inside_counted_call(span.context)  # another library's span of a call we count
        if self._dimension_keys:  # peers may set their GenAI attributes only after the start
            self._capture_baggage(span, parent_context)
        self._inner.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        if self._inner_on_ending is not None:
            self._inner_on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span.attributes
        # What on_start held for this span is released here, whatever kind of span it is.
        baggage, inside = self._pop_pending(span) if self._baggage or self._inside else (None, False)
        if attributes and not sc.GENAI_MARKER_KEYS.isdisjoint(attributes):
            plain = dict(attributes)  # one copy: plain-dict reads are several times cheaper
            if is_genai(plain):
                self._note(span, counted=plain.get(sc.SCI_COUNTED) is True)
                if not accounted_for(plain):
                    span = self._enriched(span, plain, baggage, inside)
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()
        if self._installed is not None:
            accounting.uninstall(self._installed)
        if self._owned_sink is not None:
            self._owned_sink.close()
        if self._owned_intensity is not None:
            self._owned_intensity.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def _inside_counted_call(self, span_context: Any) -> None:
        with self._lock:
            if len(self._inside) >= _NEST_MEMORY:
                self._inside.pop(next(iter(self._inside)))
            self._inside[(span_context.trace_id, span_context.span_id)] = None

    def _note(self, span: ReadableSpan, *, counted: bool) -> None:
        context = span.context
        if context is None:
            return
        parent = span.parent
        parent_id = parent.span_id if parent is not None and parent.trace_id == context.trace_id else None
        self._nests.note(context.trace_id, context.span_id, parent_id, counted=counted)

    def _enriched(
        self, span: ReadableSpan, attributes: dict[str, Any], baggage: Mapping[str, Any] | None, inside: bool
    ) -> ReadableSpan:
        """The span with its carbon, counted once per call; the span as it was if anything fails.

        ``attributes``: the span's, as a plain dict.  ``inside``: the span started inside a call
        our instrumentation counts (a duplicate of it).
        """
        try:
            resource = self._resource_attributes(span.resource)
            if self._accountant.resource is None:
                self._accountant.resource = dict(resource)
            context = span.context
            trace_id, span_id = (context.trace_id, context.span_id) if context is not None else (0, 0)
            result: CallCarbon
            if span_id and (inside or self._nests.is_duplicate(trace_id, span_id)):
                result = uncounted(sc.STATUS_DUPLICATE)
                self._accountant.record_duplicate()
            else:
                result = enrich(attributes, resource, self._context)
                if result.counted:
                    self._nests.mark_counted(trace_id, span_id)
                self._accountant.record(result, attributes, resource, trace_id, span_id, span.end_time, baggage)
            return with_attributes(span, {**attributes, **result.attributes})
        except Exception:  # never raise into the app: export the span as it was
            log_once(_logger, "enrich", "otel-carbon could not enrich a span; exporting it unchanged", exc_info=True)
            return span

    def _resource_attributes(self, resource: Resource | None) -> Mapping[str, Any]:
        """The attributes of ``resource`` as a plain dict, kept for the provider's one resource."""
        if resource is None:
            return {}
        cached = self._resource
        if cached is None or cached[0] is not resource:
            cached = self._resource = (resource, dict(resource.attributes))
        return cached[1]

    def _capture_baggage(self, span: Span, parent_context: Context | None) -> None:
        entries = baggage_api.get_all(parent_context)
        wanted = {k: entries[k] for k in self._dimension_keys if k in entries}
        if not wanted or span.context is None:
            return
        with self._lock:
            if len(self._baggage) >= _MAX_PENDING_BAGGAGE:
                self._baggage.pop(next(iter(self._baggage)))
            self._baggage[span.context.span_id] = wanted

    def _pop_pending(self, span: ReadableSpan) -> tuple[dict[str, Any] | None, bool]:
        """The baggage captured at the span's start, and whether it started inside a call we count."""
        context = span.context
        if context is None:
            return None, False
        with self._lock:
            baggage = self._baggage.pop(context.span_id, None)
            inside = self._inside.pop((context.trace_id, context.span_id), 0) is None
        return baggage, inside


def copy_with_attributes(span: ReadableSpan, extra: Attributes) -> ReadableSpan:
    """A ``ReadableSpan`` equal to ``span`` with ``extra`` attributes merged in.

    Keeps every field the exporters read, including the dropped counts of
    attributes, events and links.
    """
    return with_attributes(span, {**(span.attributes or {}), **(extra or {})})


def with_attributes(span: ReadableSpan, attributes: dict[str, Any]) -> ReadableSpan:
    """A ``ReadableSpan`` equal to ``span`` but for its ``attributes`` (all of them; the dict is kept)."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_with_dropped_attributes(attributes, span.dropped_attributes),
        events=_with_dropped(span.events, span.dropped_events),
        links=_with_dropped(span.links, span.dropped_links),
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _with_dropped(items: Any, dropped: int) -> Any:
    if not dropped:
        return items
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


def _with_dropped_attributes(attributes: dict[str, Any], dropped: int) -> Any:
    if not dropped:
        return attributes  # ReadableSpan exposes it read-only
    bounded = BoundedAttributes(maxlen=None, attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded
