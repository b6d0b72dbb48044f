"""OTLP protobuf ↔ plain Python, and enrichment of a whole ``ExportTraceServiceRequest``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes, needs_enrichment
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


OnEnriched = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], None]


def enrich_request(
    request: ExportTraceServiceRequest, context: EnrichmentContext, on_enriched: OnEnriched | None = None
) -> int:
    """Add carbon attributes, in place, to every GenAI span of ``request``; return how many.

    ``on_enriched(span_attributes, carbon_attributes, resource_attributes)`` is
    called for each enriched span (the gateway records its carbon metrics there).
    """
    enriched = 0
    for resource_spans in request.resource_spans:
        resource: Mapping[str, Any] | None = None
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if GENAI_MARKER_KEYS.isdisjoint(kv.key for kv in span.attributes):
                    continue  # the common case: not a GenAI span, no conversion at all
                attributes = attributes_dict(span.attributes)
                if not needs_enrichment(attributes):
                    continue
                if resource is None:
                    resource = attributes_dict(resource_spans.resource.attributes)
                carbon = carbon_attributes(attributes, resource, context)
                if not carbon:
                    continue
                span.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in carbon.items())
                enriched += 1
                if on_enriched is not None:
                    on_enriched(attributes, carbon, resource)
    return enriched
