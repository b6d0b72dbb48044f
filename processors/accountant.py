"""``CarbonAccountant``: counts each model call once — carbon metrics and sinks (the ledger).

Our instrumentations report every finished call here (:meth:`account_call`),
sampled or not; the span processor reports the spans of other GenAI
instrumentations it decides to count (:meth:`record`).  A span is counted at
most once per process (:data:`otel_carbon.accounting.COUNTED_SPANS`), so two
processors in one provider, or a span ending up in two exporters, count once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.metrics import MeterProvider

from otel_carbon import semconv as sc
from otel_carbon._log import log_once
from otel_carbon.accounting import COUNTED_SPANS, CallSink, CountedCall
from otel_carbon.processors.enrich import CallCarbon, EnrichmentContext, enrich
from otel_carbon.processors.metrics import CarbonMetrics, metric_dimensions, metrics_for

_logger = logging.getLogger(__name__)


class CarbonAccountant:
    """Counts calls: the carbon of each is computed once, recorded in the metrics and handed to ``sinks``.

    ``resource`` holds the attributes of the process's resource (the zone of its
    cloud region, configured dimensions); a processor fills it from the first
    span it sees when it was not given.  Metrics go to ``meter_provider``
    (default: the global one) unless ``context.settings.metrics`` is false.
    """

    def __init__(
        self,
        context: EnrichmentContext,
        *,
        meter_provider: MeterProvider | None = None,
        resource: Mapping[str, Any] | None = None,
        sinks: Iterable[CallSink] = (),
    ) -> None:
        self.context = context
        self.resource: Mapping[str, Any] | None = dict(resource) if resource is not None else None
        self._metrics: CarbonMetrics | None = metrics_for(meter_provider) if context.settings.metrics else None
        self._sinks = tuple(sinks)

    @property
    def dimension_keys(self) -> tuple[str, ...]:
        return self.context.settings.dimensions

    def account_call(
        self,
        attributes: Mapping[str, Any],
        *,
        trace_id: int,
        span_id: int,
        end_time_ns: int,
        baggage: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """Count one call traced by our instrumentation; return the ``sci.*`` attributes for its span."""
        try:
            resource = self.resource or {}
            result = enrich(attributes, resource, self.context)
            self.record(result, attributes, resource, trace_id, span_id, end_time_ns, baggage)
            return result.attributes
        except Exception:  # never raise into the app: the call proceeds uncounted
            log_once(_logger, "accountant", "otel-carbon could not count a GenAI call", exc_info=True)
            return {}

    def record(
        self,
        result: CallCarbon,
        attributes: Mapping[str, Any],
        resource: Mapping[str, Any],
        trace_id: int,
        span_id: int,
        end_time_ns: int | None = None,
        baggage: Mapping[str, Any] | None = None,
    ) -> None:
        """Record ``result`` for the span ``(trace_id, span_id)``: counted once, or counted as uncounted."""
        if not result.counted:
            if self._metrics is not None:
                self._metrics.record_uncounted(result.status or sc.STATUS_NO_USAGE)
            return
        if not COUNTED_SPANS.claim(trace_id, span_id):
            return
        carbon = result.attributes
        dims = metric_dimensions(attributes, carbon, resource, self.dimension_keys, baggage)
        if self._metrics is not None and result.usage is not None:
            self._metrics.record(carbon, result.usage, dims)
        if self._sinks:
            call = CountedCall(
                trace_id=trace_id,
                span_id=span_id,
                end_time_ns=end_time_ns if end_time_ns is not None else time.time_ns(),
                attributes=attributes,
                carbon=carbon,
                dimensions=dims,
                resource=resource,
            )
            for sink in self._sinks:
                sink.submit(call)

    def record_duplicate(self) -> None:
        """Count a span marked as a duplicate of another span of its call."""
        if self._metrics is not None:
            self._metrics.record_uncounted(sc.STATUS_DUPLICATE)

