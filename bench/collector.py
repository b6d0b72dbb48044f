"""Gateway processing cost: enrich-and-forward against pure pass-through, in one run.

For OTLP requests of 1, 100 and 1000 spans (half of them GenAI chat spans, half
plain HTTP spans), each configuration does what a gateway does per request
apart from the network.  Pass-through: decode the protobuf body and encode it
again for the upstream.  Enrich-and-forward, as our gateway: decode the body
(the receivers' check that it is a valid request), then enrich its bytes
(:func:`~otel_carbon.collector.otlp.enrich_body`: find the GenAI spans, read
them, append the carbon attributes, write the request back), with one memory
of recent spans for the whole run, as a running gateway has.  Every request is
a new trace, and token counts differ from span to span, as in a real fleet.
The receivers' checks (the body decodes, the ids have OTLP's lengths) are
timed on their own: they are the same with or without enrichment.

A round passes its requests through, then enriches and forwards the same
requests: each configuration runs as it would on its own, and both see nearly
the same machine (a VM's speed drifts within seconds).  Before the rounds, the
gateway enriches ``WARM_UP_REQUESTS`` other requests, as a gateway that has
run a while (it keeps the attribute entries it has decoded: names, token
counts).  Rows: 1, 100 and 1000 spans per request with minimal spans (five
attributes per GenAI span, three per plain span), then 1000 spans per request
as instrumentations write them (twelve and ten attributes, a response id new
with every call).  Spans/s per core = spans processed / CPU seconds of this thread, in
the best round; the cost ratio is the median round's (enrich-and-forward CPU s
/ pass-through CPU s).  Then each
step of enriching one GenAI span is timed alone, per GenAI span.

Then, on the same input in the same run, the rotel collector (``pip install
rotel``): its agent is started twice on loopback — passing spans through, and
running our trace processor (:mod:`otel_carbon.collector.rotel_processor`) —
each exporting over OTLP/gRPC to a span-counting sink in this process.  Each
round sends ``--rotel-requests`` requests of 1000 spans and waits (bounded)
until the sink has them all; spans/s/core = spans / CPU seconds of the agent
(``/proc/<pid>/stat`` utime + stime of it and its children, all threads); the
best round is kept.  Skipped, saying why, when the agent is not installed or
does not start here (or with ``--no-rotel``).

    python bench/collector.py [--spans 20000] [--rounds 5] [--batches 1,100,1000] [--no-steps]
                              [--rotel-requests 100] [--no-rotel] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import timeit
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from otel_carbon.collector import rotel_processor
from otel_carbon.collector.columns import CostedColumns
from otel_carbon.collector.otlp import MARKER_BYTES, _SpanView, _TraceRequestView, _wire_attributes, enrich_body
from otel_carbon.collector.payload import PROTOBUF, SERVICES, decode
from otel_carbon.collector.wire import any_value, attributes_wire
from otel_carbon.config import CarbonSettings
from otel_carbon.processors.enrich import EnrichmentContext, enrich, prepare
from otel_carbon.processors.nesting import CallNests
from otel_carbon.semconv import SCI_CARBON

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
         "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300}
PLAIN = {"http.request.method": "GET", "url.path": "/health", "http.response.status_code": 200}
#: The same spans with the attributes their instrumentations write: a chat call as our OpenAI
#: instrumentation records it (its response id new with every call), an HTTP server span per the
#: HTTP conventions.
GENAI_INSTRUMENTED = {**GENAI, "gen_ai.request.max_tokens": 512, "gen_ai.request.temperature": 0.2,
                      "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.response.finish_reasons": ["stop"],
                      "server.address": "api.openai.com", "server.port": 443}
PLAIN_INSTRUMENTED = {"http.request.method": "GET", "http.route": "/v1/items/{id}", "url.scheme": "https",
                      "http.response.status_code": 200, "server.address": "shop.example.com", "server.port": 443,
                      "network.protocol.version": "1.1", "client.address": "10.0.0.7",
                      "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"}
#: Span attributes per input shape: (GenAI span, plain span).
SHAPES = {"minimal": (GENAI, PLAIN), "instrumented": (GENAI_INSTRUMENTED, PLAIN_INSTRUMENTED)}
#: The OpenTelemetry Collector's published throughput, OTLP spans/s on one CPU (its docs/performance.md).
COLLECTOR_PUBLISHED_SPANS_PER_S_CORE = 12_000
ROTEL_BATCH = 1000
#: The agent's enrichment settings: the same zone as the in-process part, no live intensity provider.
ROTEL_ENV = {"OTEL_CARBON_ZONE": "FR", "OTEL_CARBON_INTENSITY_PROVIDERS": "none",
             "OTEL_CARBON_INTENSITY_CACHE_FILE": "off"}
#: 1000-span requests a gateway enriches before a row is timed: it has then seen nearly every token count
#: of the input (1 - e**-5 of them) and keeps their attribute entries, as a gateway that has run a while.
WARM_UP_REQUESTS = 160
#: Seconds to wait for the agent to deliver a round to the sink.
DELIVERY_TIMEOUT_S = 120.0


def request_body(spans: int, seed: int = 0, shape: str = "minimal") -> bytes:
    """An OTLP request of ``spans`` spans, every other one a GenAI chat span, the rest plain HTTP spans,
    with the attributes of :data:`SHAPES` ``[shape]``.

    ``seed`` gives the request its own trace (new span ids for the gateway's memory, as in a real
    fleet) and its own token counts: input 1–16 000, output 1–2 000, from a fixed pseudo-random sequence.
    """
    genai, plain = SHAPES[shape]
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    trace_id = (seed + 1).to_bytes(16, "big")
    draw = seed * 7919 + 1
    for i in range(spans):
        span = scope.spans.add(name=f"span {i}", trace_id=trace_id, span_id=(i + 1).to_bytes(8, "big"))
        attributes: dict[str, Any] = {**plain, "url.path": f"/v1/items/{i}"} if shape == "instrumented" else plain
        if i % 2 == 0:
            draw = (draw * 1103515245 + 12345) % 2**31  # the C standard's example generator
            attributes = {**genai, "gen_ai.usage.input_tokens": 1 + draw % 16_000,
                          "gen_ai.usage.output_tokens": 1 + (draw >> 14) % 2_000}
            if shape == "instrumented":
                attributes["gen_ai.response.id"] = f"chatcmpl-{seed:010d}{i:06d}"
        span.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in attributes.items())
    return request.SerializeToString()


def _round(bodies: list[bytes], context: EnrichmentContext, nests: CallNests) -> tuple[float, float]:
    """CPU seconds of passing ``bodies`` through, then of enriching and forwarding them (one after the
    other: each configuration runs as it would on its own)."""
    clock = time.thread_time
    start = clock()
    for body in bodies:
        ExportTraceServiceRequest.FromString(body).SerializeToString()
    middle = clock()
    for body in bodies:
        ExportTraceServiceRequest.FromString(body)  # the receivers' decoding check
        enrich_body(body, context, nests=nests)  # the gateway's memory of recent spans, as in a running gateway
    return middle - start, clock() - middle


def run(total_spans: int, rounds: int, batches: tuple[int, ...] = (1, 100, 1000)) -> dict:
    """Per batch size (minimal spans), then for 1000 instrumented spans: spans/s of each configuration in its
    best round, and the median round's cost ratio."""
    result = {}
    for batch, shape in [*((batch, "minimal") for batch in batches), (1000, "instrumented")]:
        context = EnrichmentContext(settings=CarbonSettings(zone="FR"))  # a gateway of its own

        requests = max(total_spans // batch, 1)
        nests = CallNests()  # one gateway's memory of recent spans, kept from request to request
        _round([request_body(1000, seed, shape) for seed in range(WARM_UP_REQUESTS)], context, nests)
        first = WARM_UP_REQUESTS * 1000 // batch  # (seeds after the warm-up's spans: new traces)
        timings = [_round([request_body(batch, seed, shape) for seed in range(seed0, seed0 + requests)], context,
                          nests) for seed0 in range(first, first + rounds * requests, requests)]
        spans = requests * batch
        result[str(batch) if shape == "minimal" else f"{batch} {shape}"] = {
            "pass_through_spans_per_s": spans / min(passing for passing, _ in timings),
            "enrich_spans_per_s": spans / min(enriching for _, enriching in timings),
            "cost_ratio": statistics.median(enriching / passing for passing, enriching in timings),
        }
    return result


class SpanSink:
    """A loopback OTLP/gRPC trace receiver that counts the spans it gets, and those carrying ``sci.carbon``."""

    def __init__(self) -> None:
        self.spans = 0
        self.enriched = 0
        self.arrived = threading.Condition()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                                   options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
        handler = grpc.unary_unary_rpc_method_handler(self._export)  # raw bytes in and out
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICES["traces"],
                                                                                    {"Export": handler})])
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def _export(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        request = ExportTraceServiceRequest.FromString(body)
        spans = [span for r in request.resource_spans for s in r.scope_spans for span in s.spans]
        enriched = sum(1 for span in spans if any(kv.key == SCI_CARBON for kv in span.attributes))
        with self.arrived:
            self.spans += len(spans)
            self.enriched += enriched
            self.arrived.notify_all()
        return b""  # an empty ExportTraceServiceResponse

    def wait_for(self, spans: int, timeout_s: float) -> bool:
        """Whether ``spans`` spans in all have arrived within ``timeout_s``."""
        with self.arrived:
            return self.arrived.wait_for(lambda: self.spans >= spans, timeout=timeout_s)

    def __enter__(self) -> SpanSink:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(None)


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) of process ``pid``, its live descendants and its reaped children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:  # exited meanwhile
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime (stat fields 14-17)
        for task in tasks:
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return total / ticks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rotel_round(export: Any, sink: SpanSink, body: bytes, requests: int, pid: int) -> tuple[int, float]:
    """Send ``requests`` bodies and wait until the sink has them: the spans delivered and the agent's CPU s."""
    expected = sink.spans + requests * ROTEL_BATCH
    before = process_cpu_seconds(pid)
    for _ in range(requests):
        export(body, timeout=30)
    if not sink.wait_for(expected, DELIVERY_TIMEOUT_S):
        raise RuntimeError(f"rotel delivered {sink.spans} of {expected} spans within {DELIVERY_TIMEOUT_S:g} s")
    return requests * ROTEL_BATCH, process_cpu_seconds(pid) - before


def rotel_agent_figures(agent: Path, body: bytes, requests: int, rounds: int, processor: bool) -> dict:
    """One rotel agent (with our trace processor or passing spans through) between this process and a
    :class:`SpanSink`: the best of ``rounds`` rounds of ``requests`` requests of ``body``."""
    with tempfile.TemporaryDirectory(prefix="otel-carbon-bench-rotel-") as workdir, SpanSink() as sink:
        command = [str(agent), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{(port := _free_port())}",
                   "--otlp-http-endpoint", f"127.0.0.1:{_free_port()}", "--exporter", "otlp",
                   "--otlp-exporter-endpoint", f"http://127.0.0.1:{sink.port}", "--otlp-exporter-protocol", "grpc",
                   "--batch-timeout", "100ms", "--pid-file", f"{workdir}/rotel.pid",
                   "--log-file", f"{workdir}/rotel.log"]
        if processor:
            command += ["--otlp-with-trace-processor", rotel_processor.__file__]
        env = {**os.environ, **ROTEL_ENV, "PYTHONPATH": rotel_processor.agent_pythonpath(Path(workdir))}
        with open(Path(workdir) / "output.log", "wb") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                export = channel.unary_unary(f"/{SERVICES['traces']}/Export")
                export(body, timeout=30, wait_for_ready=True)  # the agent is up; warm-up (and the processor loaded)
                if not sink.wait_for(ROTEL_BATCH, DELIVERY_TIMEOUT_S):
                    raise RuntimeError("rotel delivered nothing to the sink")
                best_cpu_s, spans = float("inf"), 0
                for _ in range(rounds):
                    spans, cpu_s = _rotel_round(export, sink, body, requests, process.pid)
                    best_cpu_s = min(best_cpu_s, cpu_s)
        except (RuntimeError, grpc.RpcError) as exc:
            tail = (Path(workdir) / "output.log").read_text(errors="replace")[-1000:]
            raise RuntimeError(f"{exc} (agent output: {tail!r})") from exc
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {"spans_per_s_per_core": spans / best_cpu_s, "cpu_s": best_cpu_s, "spans": spans,
            "enriched_fraction": sink.enriched / sink.spans}


def run_rotel(requests: int, rounds: int) -> dict:
    """rotel passing through and rotel running our processor on ``request_body(1000)``; ``{"skipped": why}``
    when the agent cannot run here."""
    try:
        agent = rotel_processor.agent_binary()
    except RuntimeError as exc:
        return {"skipped": str(exc)}
    body = request_body(ROTEL_BATCH)
    passing = rotel_agent_figures(agent, body, requests, rounds, processor=False)
    enriching = rotel_agent_figures(agent, body, requests, rounds, processor=True)
    if enriching["enriched_fraction"] == 0:
        raise RuntimeError("rotel's trace processor enriched no span: it did not load in the agent")
    return {
        "pass_through": passing,
        "our_processor": enriching,
        "cost_ratio": passing["spans_per_s_per_core"] / enriching["spans_per_s_per_core"],
    }


def genai_span_steps(rounds: int, requests: int = 20) -> dict[str, float]:
    """µs per GenAI span of each step of :func:`enrich_body` on 1000-span requests (500 GenAI spans), each
    step timed alone over ``requests`` requests (best of ``rounds``); then one call costed alone, as the
    in-process processor does (and the gateway for a plan with fewer than ``MIN_CALLS`` calls in a request)."""
    context = EnrichmentContext(settings=CarbonSettings(zone="FR"))
    bodies = [request_body(1000, seed) for seed in range(requests)]
    views = [_TraceRequestView.FromString(body) for body in bodies]
    containers = [view.resource_spans[0].scope_spans[0].spans for view in views]
    raws = [[raw for raw in spans[:] if MARKER_BYTES in raw] for spans in containers]
    parsed = [[_SpanView.FromString(raw) for raw in request] for request in raws]
    attributes = [[_wire_attributes(span.attributes) for span in request] for request in parsed]
    prepared = [[prepare(one, {}, context) for one in request] for request in attributes]
    plan, reading = prepared[0][0].plan, context.intensity.lookup(prepared[0][0].plan.zone)
    usages = [[call.usage for call in request] for request in prepared]
    wires = [CostedColumns(plan, reading, True, request).attributes_wires() for request in usages]
    trace_ids = itertools.count(1)

    def per_request(step: Any) -> Any:
        return lambda: [step(index) for index in range(requests)]

    def memory(index: int) -> None:
        nests = memory_of_spans
        trace_id = next(trace_ids)  # new spans each time, as in a running gateway
        keys = [(trace_id, int.from_bytes(span.span_id, "big")) for span in parsed[index]]
        nests.note_all([(*key, 0, False) for key in keys])
        nests.claim([(key, True) for key in keys])

    def append(index: int) -> None:
        spans = containers[index]
        for position, wire in zip(range(0, 1000, 2), wires[index]):
            spans[position] = raws[index][position // 2] + wire  # type: ignore[operator]

    def alone() -> bytes:
        result = enrich(attributes[0][0], {}, context)
        return attributes_wire(result.attributes, result.shared)

    memory_of_spans = CallNests()
    steps: dict[str, tuple[Any, int]] = {
        "find the GenAI spans (view, byte search)": (per_request(lambda index: [
            raw for raw in _TraceRequestView.FromString(bodies[index]).resource_spans[0].scope_spans[0].spans[:]
            if MARKER_BYTES in raw]), 500 * requests),
        "read ids and attributes": (per_request(lambda index: [
            (span.trace_id, span.span_id, _wire_attributes(span.attributes))
            for span in map(_SpanView.FromString, raws[index])]), 500 * requests),
        "one call, one figure (memory of spans)": (per_request(memory), 500 * requests),
        "plan and token usage of each call": (per_request(lambda index: [
            prepare(call, {}, context) for call in attributes[index]]), 500 * requests),
        "carbon of the calls together (columns)": (per_request(lambda index: CostedColumns(
            plan, reading, True, usages[index]).attributes_wires()), 500 * requests),
        "append the attributes to each span": (per_request(append), 500 * requests),
        "write the request back": (per_request(lambda index: views[index].SerializeToString()), 500 * requests),
        "(one call costed alone, then encoded)": (alone, 1),
        "(the receivers' checks: decoding, id lengths)": (per_request(lambda index: decode(
            bodies[index], PROTOBUF, ExportTraceServiceRequest)), 500 * requests),
    }
    return {name: min(timeit.repeat(step, number=1 if per > 1 else 20000, repeat=rounds)) * 1e6 / (
        per if per > 1 else 20000) for name, (step, per) in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--batches", default="1,100,1000", help="spans per request, comma-separated")
    parser.add_argument("--no-steps", action="store_true", help="skip the per-step timings")
    parser.add_argument("--rotel-requests", type=int, default=100, help="1000-span requests per rotel round")
    parser.add_argument("--no-rotel", action="store_true", help="skip the rotel agent")
    args = parser.parse_args()
    result = run(args.spans, args.rounds, tuple(int(batch) for batch in args.batches.split(",")))
    steps = {} if args.no_steps else genai_span_steps(args.rounds)
    rotel: dict[str, Any] = {"skipped": "--no-rotel"} if args.no_rotel else run_rotel(max(args.rotel_requests, 1), args.rounds)
    if args.json:
        print(json.dumps({**result, "genai_span_steps_us": steps, "rotel": rotel,
                          "collector_published_spans_per_s_per_core": COLLECTOR_PUBLISHED_SPANS_PER_S_CORE}, indent=2))
        return
    for batch, r in result.items():
        print(f"batch {batch:>17}: pass-through {r['pass_through_spans_per_s']:>9.0f} spans/s, "
              f"enrich {r['enrich_spans_per_s']:>8.0f} spans/s, cost {r['cost_ratio']:.2f}×")
    if steps:
        print("enrichment steps, µs per GenAI span:")
        for name, us in steps.items():
            print(f"  {name:<46} {us:>6.2f}")
    print(f"OpenTelemetry Collector, published: ≈{COLLECTOR_PUBLISHED_SPANS_PER_S_CORE} spans/s/core")
    if "skipped" in rotel:
        print(f"rotel: skipped ({rotel['skipped']})")
        return
    for name, key in (("rotel pass-through", "pass_through"), ("rotel + our processor", "our_processor")):
        figures = rotel[key]
        print(f"{name}: {figures['spans_per_s_per_core']:>8.0f} spans/s/core ({figures['spans']} spans in "
              f"{figures['cpu_s']:.2f} CPU s, {figures['enriched_fraction']:.0%} enriched)")
    print(f"rotel + our processor costs {rotel['cost_ratio']:.1f}× rotel pass-through")


if __name__ == "__main__":
    main()
