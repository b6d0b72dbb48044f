"""Per-call cost of the Bedrock instrumentation on real ``boto3`` calls, against the bare client, in one run.

The instrumentation wraps ``BaseClient._make_api_call``, the method every AWS
call of every client goes through, so two costs matter:

* ``pass-through`` — a ``bedrock-runtime`` operation that is not traced
  (``ApplyGuardrail``): what every other AWS call pays, one dict lookup and a
  service-name check;
* ``converse`` — a traced ``Converse`` call: span, extraction, energy window.

Both run against the loopback Bedrock server of the tests
(``tests/wire/bedrock.py``, plus an ``ApplyGuardrail`` route here), one call
at a time, timed per call; rounds alternate instrumented and bare (the same
process: only our instrumentor patches botocore), and the best median of each
is kept.  Spans go to a ``BatchSpanProcessor`` with a dropping exporter.

    python bench/bedrock.py [--calls 300] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult  # noqa: E402
from wire import bedrock as wire  # noqa: E402
from wire_server import Call, Reply, WireServer, json_reply  # noqa: E402

from otel_carbon.instrumentations.bedrock import BedrockInstrumentor  # noqa: E402

MESSAGES = [{"role": "user", "content": [{"text": "De quelle couleur est le ciel ?"}]}]


class _Drop(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _guardrail(_call: Call) -> Reply:
    return json_reply({"usage": {"topicPolicyUnits": 0, "contentPolicyUnits": 1, "wordPolicyUnits": 0,
                                 "sensitiveInformationPolicyUnits": 0, "sensitiveInformationPolicyFreeUnits": 0,
                                 "contextualGroundingPolicyUnits": 0},
                       "action": "NONE", "outputs": [], "assessments": []})


def _median_seconds(call: Callable[[], Any], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(calls: int, rounds: int) -> dict[str, dict[str, float]]:
    routes = wire.routes() + [("POST", r"/guardrail/(?P<id>[^/]+)/version/(?P<version>[^/]+)/apply", _guardrail)]
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Drop()))
    instrumentor = BedrockInstrumentor()
    with WireServer(routes) as server:
        client = boto3.client("bedrock-runtime", region_name="eu-west-1", endpoint_url=server.url,
                              aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench-secret",
                              config=Config(retries={"total_max_attempts": 1}))
        work = {
            "pass-through": lambda: client.apply_guardrail(guardrailIdentifier="g", guardrailVersion="1",
                                                           source="INPUT", content=[{"text": {"text": "hi"}}]),
            "converse": lambda: client.converse(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=MESSAGES),
        }
        best = {name: {"bare": float("inf"), "instrumented": float("inf")} for name in work}
        for name, call in work.items():
            for _ in range(20):
                call()  # warm-up: connection, botocore's caches
        for _ in range(rounds):
            for name, call in work.items():
                best[name]["bare"] = min(best[name]["bare"], _median_seconds(call, calls))
            instrumentor.instrument(tracer_provider=provider)
            try:
                for name, call in work.items():
                    best[name]["instrumented"] = min(best[name]["instrumented"], _median_seconds(call, calls))
            finally:
                instrumentor.uninstrument()
    provider.shutdown()
    return {name: {"bare_us": b["bare"] * 1e6, "instrumented_us": b["instrumented"] * 1e6,
                   "ratio": b["instrumented"] / b["bare"]} for name, b in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.calls, args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'call':<14}{'bare µs':>10}{'instrumented µs':>18}{'× bare':>9}")
    for name, row in result.items():
        print(f"{name:<14}{row['bare_us']:>10.0f}{row['instrumented_us']:>18.0f}{row['ratio']:>9.3f}")


if __name__ == "__main__":
    main()
