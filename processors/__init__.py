"""Span processing: carbon enrichment of GenAI spans and the carbon metrics.

``enrich`` is SDK-free (the collector imports it); the processor needs the SDK.
"""

from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes, is_genai
from otel_carbon.processors.span_processor import CarbonSpanProcessor, copy_with_attributes

__all__ = [
    "CarbonSpanProcessor",
    "EnrichmentContext",
    "carbon_attributes",
    "copy_with_attributes",
    "is_genai",
]
