"""OTLP protobuf ↔ plain Python, and enrichment of a whole ``ExportTraceServiceRequest``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otel_carbon import semconv as sc
from otel_carbon.processors.accountant import CarbonAccountant
from otel_carbon.processors.enrich import EnrichmentContext, enrich, is_genai, needs_enrichment, uncounted
from otel_carbon.processors.nesting import CallNests
from otel_carbon.semconv import GENAI_MARKER_KEYS


def python_value(value: AnyValue) -> Any:
    """The Python value of an ``AnyValue`` (arrays as tuples, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(python_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: python_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: python_value(kv.value) for kv in attributes}


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


def _id(raw: bytes) -> int:
    return int.from_bytes(raw, "big") if raw else 0


def enrich_request(
    request: ExportTraceServiceRequest,
    context: EnrichmentContext,
    accountant: CarbonAccountant | None = None,
    nests: CallNests | None = None,
) -> int:
    """Add carbon attributes, in place, to the GenAI spans of ``request``; return how many were counted.

    One call, one figure (:mod:`otel_carbon.processors.nesting`): every GenAI span of the
    request is noted in ``nests`` first (spans remembered from earlier requests count
    too), then each span not yet accounted for is either counted — enriched, and
    recorded by ``accountant`` (metrics, ledger) — or marked ``sci.counted=false``
    with its ``sci.carbon.status``.  Spans arriving already accounted for (our
    instrumentation, an in-process processor) are left as they are.
    """
    nests = nests if nests is not None else CallNests()
    pending: list[tuple[Any, dict[str, Any], Mapping[str, Any], int, int]] = []
    for resource_spans in request.resource_spans:
        resource: Mapping[str, Any] | None = None
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if GENAI_MARKER_KEYS.isdisjoint(kv.key for kv in span.attributes):
                    continue  # the common case: not a GenAI span, no conversion at all
                attributes = attributes_dict(span.attributes)
                if not is_genai(attributes):
                    continue
                trace_id, span_id = _id(span.trace_id), _id(span.span_id)
                nests.note(trace_id, span_id, _id(span.parent_span_id), counted=attributes.get(sc.SCI_COUNTED) is True)
                if not needs_enrichment(attributes):
                    continue
                if resource is None:
                    resource = attributes_dict(resource_spans.resource.attributes)
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
        span.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in result.attributes.items())
    return counted
