"""The zero-code app of ``.ci/wheel_smoke``: one OpenAI call to otel-carbon's loopback demo server.

Run as ``opentelemetry-instrument python smoke_app.py``; nothing here mentions OpenTelemetry.
"""

import openai

from otel_carbon.cli.demo_server import LLMServer

with LLMServer() as server:
    client = openai.OpenAI(base_url=server.url, api_key="sk-smoke", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
print("smoke app done")
