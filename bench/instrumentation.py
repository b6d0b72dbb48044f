"""Per-call overhead of instrumenting the OpenAI SDK, against the bare SDK, in one run.

Each configuration runs in its own subprocess (peers patch the same SDK methods)
against the same loopback server (``otel_carbon.cli.demo_server``): N non-streamed
chat completions, timed per call; the median is kept.  Configurations:

* ``bare``          — the SDK, no instrumentation;
* ``ours``          — our instrumentor, spans to a BatchSpanProcessor (dropping exporter);
* ``ours+carbon``   — the same with ``CarbonSpanProcessor`` in front (enrichment + metrics);
* ``official``      — ``opentelemetry-instrumentation-genai-openai`` (the official one);
* ``openllmetry``   — ``opentelemetry-instrumentation-openai`` (Traceloop).

Peers are imported from ``.peers/`` (see ``.ci/run``).  Rounds interleave the
configurations; the best median of each is reported with its ratio to ``bare``.

    python bench/instrumentation.py [--calls 400] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("bare", "ours", "ours+carbon", "official", "openllmetry")


def _measure(config: str, url: str, calls: int) -> float:
    """Median seconds per call for ``config`` (runs inside the child process)."""
    import openai
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):  # noqa: ANN001, ANN202
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    batch = BatchSpanProcessor(Drop())
    if config == "ours+carbon":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        from otel_carbon.config import CarbonSettings
        from otel_carbon.processors import CarbonSpanProcessor

        meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
        provider.add_span_processor(CarbonSpanProcessor(batch, settings=CarbonSettings(zone="FR"), meter_provider=meters))
    else:
        provider.add_span_processor(batch)
    if config in ("ours", "ours+carbon"):
        from otel_carbon.instrumentations.openai import OpenAIInstrumentor
    elif config == "official":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    elif config == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    if config != "bare":
        OpenAIInstrumentor().instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=url, api_key="sk-bench", max_retries=0)
    messages = [{"role": "user", "content": "hello"}]
    for _ in range(20):  # warm-up: connection pool, imports, caches
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        times.append(time.perf_counter() - start)
    provider.shutdown()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child[0], args.child[1], args.calls)))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from otel_carbon.cli.demo_server import LLMServer

    env = dict(os.environ, PYTHONPATH=str(ROOT / ".peers"))
    best = {config: float("inf") for config in CONFIGS}
    with LLMServer() as server:
        for _ in range(args.rounds):
            for config in CONFIGS:
                out = subprocess.run(
                    [sys.executable, __file__, "--calls", str(args.calls), "--child", config, server.url],
                    capture_output=True, text=True, timeout=300, env=env, check=True,
                ).stdout
                best[config] = min(best[config], json.loads(out.strip().splitlines()[-1]))
    result = {c: {"us_per_call": best[c] * 1e6, "ratio_to_bare": best[c] / best["bare"]} for c in CONFIGS}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for config in CONFIGS:
        r = result[config]
        print(f"{config:<13} {r['us_per_call']:>9.1f} µs/call  {r['ratio_to_bare']:.3f}× bare")


if __name__ == "__main__":
    main()
