"""Run one OpenAI call under one or more GenAI instrumentations, with our processor in front of the exporter.

    python peer_app.py official|openllmetry|ours[,…]  ->  prints {"spans": [attributes…], "requests": N}

The instrumentations are applied in the order given (the last one wraps the others, so its span is
the outermost).  ``requests`` is the count of the ``sci.carbon.request`` histogram: calls counted.
Peers are installed apart from the project's environment (``.peers/``, see ``.ci/run``) because
they register the same ``openai`` entry point as ours.
"""

import json
import sys

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_carbon.cli.demo_server import LLMServer
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import CarbonSpanProcessor


def instrumentor(name):
    if name == "official":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    elif name == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    else:
        from otel_carbon.instrumentations.openai import OpenAIInstrumentor
    return OpenAIInstrumentor()


exporter = InMemorySpanExporter()
reader = InMemoryMetricReader()
meter_provider = MeterProvider(metric_readers=[reader])
provider = TracerProvider()
provider.add_span_processor(CarbonSpanProcessor(
    SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR"), meter_provider=meter_provider))
for name in sys.argv[1].split(","):
    instrumentor(name).instrument(tracer_provider=provider)
with LLMServer() as server:
    client = openai.OpenAI(base_url=server.url, api_key="sk-peer", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
provider.force_flush()
requests = 0
for rm in (reader.get_metrics_data() or {"resource_metrics": ()}).resource_metrics:
    for sm in rm.scope_metrics:
        for metric in sm.metrics:
            if metric.name == "sci.carbon.request":
                requests += sum(point.count for point in metric.data.data_points)
spans = [dict(span.attributes, _scope=span.instrumentation_scope.name) for span in exporter.get_finished_spans()]
print(json.dumps({"spans": spans, "requests": requests}, default=str))
