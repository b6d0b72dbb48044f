"""Spans/s through BatchSpanProcessor with and without CarbonSpanProcessor, in one run.

Each configuration creates and ends N spans on the application thread (what the
app pays) and then flushes, so enrichment cost and export cost both count.  The
exporter drops spans.  Configurations are interleaved over several rounds and the
best round of each is kept (the least disturbed by other load on the machine).

    python bench/processor.py [--spans 20000] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from otel_carbon.config import CarbonSettings
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.spans, args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name in ("plain/bare", "plain/carbon", "genai/bare", "genai/carbon"):
        r = result[name]
        print(f"{name:<14} {r['spans_per_s']:>10.0f} spans/s  {r['us_per_span']:>7.2f} µs/span")
    print(f"ratio plain  {result['ratio_plain']:.3f}  (goal <= 1.05)")
    print(f"ratio genai  {result['ratio_genai']:.3f}  (goal <= 1.30)")


if __name__ == "__main__":
    main()
