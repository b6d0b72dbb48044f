"""Span processing: carbon enrichment of GenAI spans, counting, and the carbon metrics.

``enrich`` (and ``nesting``) are SDK-free: the collector and the rotel processor import them, and
importing them loads no OpenTelemetry SDK and no HTTP client.  The processor needs the SDK, so it
is loaded on first use of its names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes, is_genai

if TYPE_CHECKING:  # for type checkers; at run time loaded by __getattr__ on first use
    from otel_carbon.processors.span_processor import CarbonSpanProcessor, copy_with_attributes

__all__ = [
    "CarbonSpanProcessor",
    "EnrichmentContext",
    "carbon_attributes",
    "copy_with_attributes",
    "is_genai",
]

_FROM_SPAN_PROCESSOR = frozenset({"CarbonSpanProcessor", "copy_with_attributes"})


def __getattr__(name: str) -> Any:
    if name in _FROM_SPAN_PROCESSOR:
        from otel_carbon.processors import span_processor

        return getattr(span_processor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
