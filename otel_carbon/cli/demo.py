"""``otel-carbon demo``: a sample GenAI workload through the real OpenTelemetry pipeline.

No API key and no network.  When the ``openai`` and ``anthropic`` packages are
installed (the ``demo`` extra: ``pip install '.[demo]'`` from a checkout), the demo starts an embedded
loopback server that speaks their APIs (:mod:`otel_carbon.cli.demo_server`) and
makes real SDK calls — plain and streamed — under our instrumentation; the
SDKs believe they talk to ``api.openai.com`` / ``api.anthropic.com`` (an HTTP
transport routes the connection to the loopback port), so the spans describe
the real services.  The rest of the workload (other providers, a local model)
is emitted as spans shaped like a GenAI instrumentation's.  Every span goes
TracerProvider → CarbonSpanProcessor → exporter, and the enriched spans are
summed into a carbon line-item table.  With ``OTEL_EXPORTER_OTLP_ENDPOINT``
set, spans and carbon metrics are also exported over OTLP.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_carbon import semconv as sc
from otel_carbon._usage import usage_error
from otel_carbon.config import CarbonSettings, ConfigError, env_var
from otel_carbon.distro import carbon_span_processor, otlp_metric_exporter, otlp_span_exporter, sdk_instrumentors
from otel_carbon.gates.records import call_record


@dataclass(frozen=True)
class SampleCall:
    """One call of the built-in workload (token counts as a GenAI instrumentation reports them)."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    server_address: str = ""
    operation: str = "chat"
    feature: str = "chat"


#: The OpenAI and Anthropic part of the workload: real SDK calls when the SDKs
#: are installed, else spans of these shapes.
SDK_WORKLOAD: tuple[SampleCall, ...] = (
    SampleCall("openai", "gpt-4o-mini", 1200, 250, server_address="api.openai.com"),
    SampleCall("openai", "gpt-4o-mini", 1200, 310, cached_input_tokens=1024, server_address="api.openai.com"),
    SampleCall("openai", "gpt-4o", 3000, 600, server_address="api.openai.com", feature="summarise"),
    SampleCall("openai", "o4-mini", 800, 2400, reasoning_tokens=1900, server_address="api.openai.com", feature="plan"),
    SampleCall("openai", "text-embedding-3-small", 8000, 0, server_address="api.openai.com", operation="embeddings", feature="search"),
    SampleCall("anthropic", "claude-sonnet-4-5", 5000, 700, cached_input_tokens=4000, server_address="api.anthropic.com"),
    SampleCall("anthropic", "claude-haiku-4-5", 900, 150, server_address="api.anthropic.com", feature="classify"),
)
#: A small product's day in miniature: chat, a cached system prompt, a reasoning
#: call, embeddings for retrieval, other providers, a local model on this machine.
WORKLOAD: tuple[SampleCall, ...] = SDK_WORKLOAD + (
    SampleCall("gcp.gemini", "gemini-2.5-flash", 2000, 400, server_address="generativelanguage.googleapis.com"),
    SampleCall("mistral_ai", "mistral-large-latest", 1500, 500, server_address="api.mistral.ai", feature="summarise"),
    SampleCall("ollama", "llama3.1:8b", 600, 200, server_address="localhost", feature="classify"),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run a sample GenAI workload and print its carbon line items")
    parser.add_argument("--zone", default=None, help="grid zone of this machine (default: OTEL_CARBON_ZONE, else DE)")
    parser.add_argument("--repeat", type=int, default=1, help="run the workload this many times (1-1000)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.repeat <= 1000:
        return usage_error("demo", "--repeat must be between 1 and 1000")
    try:
        settings = CarbonSettings.from_env(
            zone=args.zone or os.environ.get(env_var("zone")) or "DE", dimensions=(sc.DIM_APP_FEATURE,)
        )
    except ConfigError as exc:
        return usage_error("demo", str(exc))
    spans = run_workload(WORKLOAD * args.repeat, settings, real_sdks=True)
    print(render_table(line_items(spans)))
    real = sum(1 for s in spans if s.instrumentation_scope and s.instrumentation_scope.name.startswith("otel_carbon.instrumentations"))
    if real:
        print(f"\n{real} of {len(spans)} calls made with the real openai/anthropic SDKs against the embedded server.")
    return 0


def run_workload(
    calls: Iterable[SampleCall], settings: CarbonSettings, *, real_sdks: bool = False
) -> Sequence[ReadableSpan]:
    """Emit one span per call through TracerProvider → CarbonSpanProcessor → exporters.

    With ``real_sdks``, OpenAI and Anthropic calls are made with the real SDKs
    against the embedded server (when installed) instead of emitted as spans.
    """
    memory = InMemorySpanExporter()
    export: list[SpanProcessor] = [SimpleSpanProcessor(memory)]
    readers: list[MetricReader] = [InMemoryMetricReader()]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        export.append(BatchSpanProcessor(otlp_span_exporter()))
        readers.append(PeriodicExportingMetricReader(otlp_metric_exporter()))
    resource = Resource.create({sc.SERVICE_NAME: "otel-carbon-demo"})
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    tracer_provider = TracerProvider(resource=resource)
    exporters = SynchronousMultiSpanProcessor()
    for processor in export:
        exporters.add_span_processor(processor)
    tracer_provider.add_span_processor(carbon_span_processor(exporters, settings, meter_provider))
    calls = list(calls)
    if real_sdks and run_sdk_calls(tracer_provider, repeat=max(1, sum(c in SDK_WORKLOAD for c in calls) // len(SDK_WORKLOAD))):
        calls = [c for c in calls if c not in SDK_WORKLOAD]
    tracer = tracer_provider.get_tracer("otel_carbon.demo", schema_url=sc.SCHEMA_URL)
    for call in calls:
        with tracer.start_as_current_span(f"{call.operation} {call.model}", kind=SpanKind.CLIENT) as span:
            span.set_attributes(_attributes(call))
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return memory.get_finished_spans()


def run_sdk_calls(tracer_provider: TracerProvider, repeat: int = 1) -> bool:
    """Real OpenAI and Anthropic SDK calls, instrumented, against the embedded server.

    Returns ``False`` (and does nothing) when the SDKs are not installed.
    """
    try:
        import anthropic
        import openai
    except ImportError:
        return False
    from otel_carbon.cli.demo_server import LLMServer

    instrumentors = sdk_instrumentors("openai", "anthropic")
    with LLMServer() as server:
        port = server.server_address[1]
        oai = openai.OpenAI(api_key="demo-key", http_client=_loopback_client(openai, port), max_retries=0)
        claude = anthropic.Anthropic(api_key="demo-key", http_client=_loopback_client(anthropic, port), max_retries=0)
        for instrumentor in instrumentors:
            instrumentor.instrument(tracer_provider=tracer_provider)
        try:
            hello: Any = [{"role": "user", "content": "Say hello to the grid."}]
            for _ in range(repeat):
                oai.chat.completions.create(model="gpt-4o-mini", messages=hello)
                for _chunk in oai.chat.completions.create(model="gpt-4o-mini", messages=hello, stream=True,
                                                          stream_options={"include_usage": True}):
                    pass
                oai.chat.completions.create(model="gpt-4o", messages=hello)
                oai.responses.create(model="o4-mini", input="Plan a low-carbon batch job.")
                oai.embeddings.create(model="text-embedding-3-small", input="carbon-aware search")
                claude.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=hello)
                for _event in claude.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=hello,
                                                     stream=True):
                    pass
        finally:
            for instrumentor in instrumentors:
                instrumentor.uninstrument()
            oai.close()
            claude.close()
    return True


def _loopback_client(sdk: Any, port: int) -> Any:
    """The SDK's default HTTP client, its connections routed to the embedded server.

    Each SDK pins its own httpx flavour (``httpx`` or ``httpx2``): the
    transport is taken from the package the SDK's client class comes from.
    """
    httpx_module = import_module(sdk.DefaultHttpxClient.__mro__[1].__module__.partition(".")[0])
    return sdk.DefaultHttpxClient(transport=_ToLoopback(port, httpx_module.HTTPTransport()))


class _ToLoopback:
    """An httpx transport that sends every request to the embedded server's loopback port."""

    def __init__(self, port: int, inner: Any) -> None:
        self._port = port
        self._inner = inner

    def handle_request(self, request: Any) -> Any:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _attributes(call: SampleCall) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: call.operation,
        sc.GEN_AI_PROVIDER_NAME: call.provider,
        sc.GEN_AI_REQUEST_MODEL: call.model,
        sc.GEN_AI_USAGE_INPUT_TOKENS: call.input_tokens,
        sc.SERVER_ADDRESS: call.server_address,
        sc.DIM_APP_FEATURE: call.feature,
    }
    if call.operation != "embeddings":
        attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = call.output_tokens
    if call.cached_input_tokens:
        attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = call.cached_input_tokens
    if call.reasoning_tokens:
        attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = call.reasoning_tokens
    return attributes


@dataclass
class LineItem:
    """Totals of one (model, zone): requests, tokens, energy (J), carbon (g CO2e), cost (USD).

    ``cost_usd`` stays ``None`` while no call had a price (local inference has no API bill).
    """

    requests: int = 0
    tokens: int = 0
    energy_j: float = 0.0
    carbon_g: float = 0.0
    cost_usd: float | None = None

    def add_cost(self, cost: float | None) -> None:
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost


def line_items(spans: Iterable[ReadableSpan]) -> dict[tuple[str, str], LineItem]:
    """Sum the counted calls of enriched spans (read by :func:`~otel_carbon.gates.records.call_record`) per (model, zone)."""
    items: dict[tuple[str, str], LineItem] = defaultdict(LineItem)
    for span in spans:
        call = call_record(span.attributes or {})
        if call is None:
            continue
        item = items[(call.model, call.zone)]
        item.requests += 1
        item.tokens += call.tokens
        item.energy_j += call.energy_j
        item.carbon_g += call.carbon_g
        item.add_cost(call.cost_usd)
    return dict(items)


def render_table(items: dict[tuple[str, str], LineItem]) -> str:
    """A fixed-width carbon line-item table with a total row."""
    header = f"{'model':<24} {'zone':<12} {'requests':>8} {'tokens':>9} {'energy Wh':>10} {'g CO2e':>9} {'cost USD':>9}"
    lines = [header, "-" * len(header)]
    total = LineItem()
    for (model, zone), item in sorted(items.items(), key=lambda kv: -kv[1].carbon_g):
        lines.append(_row(model, zone, item))
        total.requests += item.requests
        total.tokens += item.tokens
        total.energy_j += item.energy_j
        total.carbon_g += item.carbon_g
        total.add_cost(item.cost_usd)
    lines += ["-" * len(header), _row("total", "", total)]
    return "\n".join(lines)


def _row(model: str, zone: str, item: LineItem) -> str:
    return (
        f"{model:<24} {zone:<12} {item.requests:>8} {item.tokens:>9} "
        f"{item.energy_j / 3600:>10.4f} {item.carbon_g:>9.4f} "
        + (f"{item.cost_usd:>9.4f}" if item.cost_usd is not None else f"{'—':>9}")
    )
