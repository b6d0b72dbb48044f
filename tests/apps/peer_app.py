"""Run one OpenAI call under a *peer* instrumentation with our processor in front of the exporter.

    python peer_app.py official|openllmetry  ->  prints the exported spans' attributes as JSON

Peers are installed apart from the project's environment (``.peers/``, see
``.ci/run``) because they register the same ``openai`` entry point as ours.
"""

import json
import sys

import openai
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_carbon.config import CarbonSettings
from otel_carbon.demo_server import LLMServer
from otel_carbon.processors import CarbonSpanProcessor

if sys.argv[1] == "official":
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
else:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(CarbonSpanProcessor(SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR")))
OpenAIInstrumentor().instrument(tracer_provider=provider)
with LLMServer() as server:
    client = openai.OpenAI(base_url=server.url, api_key="sk-peer", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
provider.force_flush()
print(json.dumps([dict(span.attributes) for span in exporter.get_finished_spans()], default=str))
