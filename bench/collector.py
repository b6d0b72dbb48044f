"""Gateway processing cost: enrich-and-forward against pure pass-through, in one run.

For OTLP requests of 1, 100 and 1000 spans (half of them GenAI chat spans, half
plain HTTP spans), each configuration does what the gateway does per request
apart from the network: decode the protobuf body, (enrich), encode it again for
the upstream.  Spans/s per core = spans processed / CPU seconds of this thread.
Rounds interleave both configurations; the best round is kept.

    python bench/collector.py [--spans 20000] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from otel_carbon.collector.otlp import any_value, enrich_request
from otel_carbon.config import CarbonSettings
from otel_carbon.processors.enrich import EnrichmentContext

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
         "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300}
PLAIN = {"http.request.method": "GET", "url.path": "/health", "http.response.status_code": 200}


def request_body(spans: int) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(spans):
        span = scope.spans.add(name=f"span {i}", trace_id=bytes(16), span_id=i.to_bytes(8, "big"))
        attributes = GENAI if i % 2 == 0 else PLAIN
        span.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in attributes.items())
    return request.SerializeToString()


def _cpu_seconds(body: bytes, requests: int, context: EnrichmentContext | None) -> float:
    start = time.thread_time()
    for _ in range(requests):
        request = ExportTraceServiceRequest.FromString(body)
        if context is not None:
            enrich_request(request, context, body=body)
        request.SerializeToString()
    return time.thread_time() - start


def run(total_spans: int, rounds: int) -> dict:
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    result = {}
    for batch in (1, 100, 1000):
        body = request_body(batch)
        requests = max(total_spans // batch, 1)
        _cpu_seconds(body, 10, context)  # warm-up
        best = {"pass-through": float("inf"), "enrich": float("inf")}
        for _ in range(rounds):
            best["pass-through"] = min(best["pass-through"], _cpu_seconds(body, requests, None))
            best["enrich"] = min(best["enrich"], _cpu_seconds(body, requests, context))
        spans = requests * batch
        result[str(batch)] = {
            "pass_through_spans_per_s": spans / best["pass-through"],
            "enrich_spans_per_s": spans / best["enrich"],
            "cost_ratio": best["enrich"] / best["pass-through"],
        }
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
    for batch, r in result.items():
        print(f"batch {batch:>4}: pass-through {r['pass_through_spans_per_s']:>9.0f} spans/s, "
              f"enrich {r['enrich_spans_per_s']:>8.0f} spans/s, cost {r['cost_ratio']:.2f}×")


if __name__ == "__main__":
    main()
