"""Spans/s through BatchSpanProcessor with and without CarbonSpanProcessor, in one run.

Each configuration creates and ends N spans on the application thread (what the
app pays) and then flushes, so enrichment cost and export cost both count.  The
exporter drops spans.  Configurations are interleaved over several rounds and the
best round of each is kept (the least disturbed by other load on the machine).

Then, in the same run, the GenAI path is taken apart: each step the processor adds
is timed on its own on one ended span (best of the rounds), beside the
straightforward footprint computation the fast path replaces (the test oracle).

    python bench/processor.py [--spans 20000] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import timeit
from collections.abc import Callable, Sequence

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from otel_carbon import accounting
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.footprint import compute_footprint
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext
from otel_carbon.processors.enrich import enrich, footprint_attributes, token_usage
from otel_carbon.processors.metrics import metric_dimensions, metrics_for
from otel_carbon.processors.nesting import CallNests
from otel_carbon.processors.span_processor import with_attributes

GENAI = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1024,
}
PLAIN = {"http.request.method": "GET", "url.path": "/health", "http.response.status_code": 200}


class DropExporter(SpanExporter):
    def export(self, spans: Sequence) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider(carbon: bool) -> TracerProvider:
    batch = BatchSpanProcessor(DropExporter(), max_queue_size=65536, max_export_batch_size=512)
    provider = TracerProvider()
    if carbon:
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
        provider.add_span_processor(CarbonSpanProcessor(batch, context=context, meter_provider=meter_provider))
    else:
        provider.add_span_processor(batch)
    return provider


def _seconds(carbon: bool, attributes: dict, spans: int) -> float:
    provider = _provider(carbon)
    tracer = provider.get_tracer("bench")
    start = time.perf_counter()
    for _ in range(spans):
        tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes).end()
    provider.force_flush()
    elapsed = time.perf_counter() - start
    provider.shutdown()
    return elapsed


def run(spans: int, rounds: int) -> dict:
    cases: dict[str, Callable[[], float]] = {
        "plain/bare": lambda: _seconds(False, PLAIN, spans),
        "plain/carbon": lambda: _seconds(True, PLAIN, spans),
        "genai/bare": lambda: _seconds(False, GENAI, spans),
        "genai/carbon": lambda: _seconds(True, GENAI, spans),
    }
    for case in cases.values():  # warm-up: imports, catalogue load, caches
        case()
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            best[name] = min(best[name], case())
    result = {name: {"spans_per_s": spans / seconds, "us_per_span": seconds / spans * 1e6} for name, seconds in best.items()}
    result["ratio_plain"] = best["plain/carbon"] / best["plain/bare"]
    result["ratio_genai"] = best["genai/carbon"] / best["genai/bare"]
    return result


def breakdown(rounds: int, number: int = 20000) -> dict[str, float]:
    """µs per GenAI span of each step the processor adds, each timed alone (best of ``rounds``)."""
    exporter = _Keep()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("bench").start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=GENAI).end()
    span = exporter.spans[0]
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    metrics = metrics_for(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    attributes = dict(span.attributes)
    result = enrich(attributes, {}, context)
    dims = metric_dimensions(attributes, result.attributes, {}, ())
    nests, ids = CallNests(), itertools.count(1)
    usage = token_usage(attributes)
    catalogue = Catalogue.default()
    reading = context.intensity.lookup(result.attributes["sci.intensity.zone"])

    def straightforward() -> None:
        footprint_attributes(compute_footprint(
            provider="openai", model="gpt-4o-mini", usage=usage, zone=reading.zone, settings=context.settings,
            catalogue=catalogue, intensity=context.intensity,
        ))

    def bookkeeping() -> None:
        span_id = next(ids)
        nests.note(1, span_id, None)
        nests.is_duplicate(1, span_id)
        nests.mark_counted(1, span_id)
        accounting.COUNTED_SPANS.claim(1, span_id)

    steps: dict[str, Callable[[], object]] = {
        "read attributes (plain dict)": lambda: dict(span.attributes),
        "enrichment, fast path": lambda: enrich(attributes, {}, context),
        "metric dimensions": lambda: metric_dimensions(attributes, result.attributes, {}, ()),
        "metrics (SDK histogram + running totals)": lambda: metrics.record(result.attributes, usage, dims),
        "counting bookkeeping": bookkeeping,
        "enriched span copy": lambda: with_attributes(span, {**attributes, **result.attributes}),
        "straightforward footprint (the oracle; not on the path)": straightforward,
    }
    return {name: min(timeit.repeat(step, number=number, repeat=rounds)) / number * 1e6 for name, step in steps.items()}


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list = []

    def export(self, spans: Sequence) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.spans, args.rounds)
    result["genai_steps_us"] = breakdown(args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name in ("plain/bare", "plain/carbon", "genai/bare", "genai/carbon"):
        r = result[name]
        print(f"{name:<14} {r['spans_per_s']:>10.0f} spans/s  {r['us_per_span']:>7.2f} µs/span")
    print(f"ratio plain  {result['ratio_plain']:.3f}  (goal <= 1.05)")
    print(f"ratio genai  {result['ratio_genai']:.3f}  (goal <= 1.5)")
    bare = result["genai/bare"]["us_per_span"]
    print(f"GenAI steps, µs per span (bare pipeline {bare:.2f} µs):")
    for name, us in result["genai_steps_us"].items():
        print(f"  {name:<58} {us:>6.2f}  ({us / bare:.2f}× bare)")


if __name__ == "__main__":
    main()
