"""The rotel processor, run inside the real rotel agent (pip package ``rotel``) over loopback OTLP/gRPC.

App (standard OTLP exporter) → rotel agent with ``otel_carbon.collector.rotel_processor``
→ in-test OTLP receiver: the GenAI span arrives with the same carbon attributes
``carbon_attributes`` gives in process, the plain span and the one already
carrying ``sci.carbon`` arrive unchanged.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_receiver import OTLPReceiver

from otel_carbon.collector import rotel_processor
from otel_carbon.config import CarbonSettings
from otel_carbon.intensity import build_intensity
from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes

# The agent embeds its own libpython 3.11, which cannot load this host's `_ssl` extension: the processor
# must not build an HTTP client when no live intensity provider is configured (it once did, and the
# GenAI span went through unenriched).
pytest.importorskip("rotel", reason="the rotel collector is not installed (pip install rotel)")

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
         "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300}
PLAIN = {"http.request.method": "GET", "url.path": "/health"}
RESOURCE = {"service.name": "svc", "cloud.provider": "gcp", "cloud.region": "europe-west1"}
ENV = {"OTEL_CARBON_ZONE": "FR", "OTEL_CARBON_INTENSITY_PROVIDERS": "none", "OTEL_CARBON_INTENSITY_CACHE_FILE": "off"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_rotel_agent_enriches_genai_spans_with_the_shared_function(tmp_path):
    try:
        agent_binary = rotel_processor.agent_binary()
    except RuntimeError as exc:  # e.g. the agent links libpython3.11.so, absent on this host
        pytest.skip(str(exc))
    grpc_port, http_port = _free_port(), _free_port()
    with OTLPReceiver() as upstream:
        env = {**os.environ, **ENV, "PYTHONPATH": rotel_processor.agent_pythonpath(tmp_path)}
        agent = subprocess.Popen(
            [str(agent_binary), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
             "--otlp-http-endpoint", f"127.0.0.1:{http_port}", "--exporter", "otlp",
             "--otlp-exporter-endpoint", f"http://127.0.0.1:{upstream.port}", "--otlp-exporter-protocol", "grpc",
             "--otlp-with-trace-processor", rotel_processor.__file__, "--batch-timeout", "100ms"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            provider = TracerProvider(resource=Resource.create(RESOURCE))
            # The exporter retries UNAVAILABLE while the agent binds its port.
            provider.add_span_processor(SimpleSpanProcessor(
                OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=20)))
            tracer = provider.get_tracer("app")
            for name, attributes in {"chat": GENAI, "GET /health": PLAIN, "already": {**GENAI, "sci.carbon": 1.5}}.items():
                tracer.start_span(name, attributes=attributes).end()
            provider.shutdown()
            with upstream.received:
                arrived = upstream.received.wait_for(lambda: len(upstream.spans) >= 3, timeout=20)
        finally:
            agent.terminate()
            stderr, _ = agent.communicate(timeout=10)
        assert arrived, (upstream.spans, stderr.decode(errors="replace")[-3000:])
    spans = dict(upstream.spans)
    assert spans["GET /health"] == PLAIN
    assert spans["already"] == {**GENAI, "sci.carbon": 1.5}
    settings = CarbonSettings.from_env(ENV)
    intensity = build_intensity(settings, start=False)
    try:
        expected = carbon_attributes(GENAI, {**RESOURCE, "telemetry.sdk.language": "python"},
                                     EnrichmentContext(settings=settings, intensity=intensity))
    finally:
        intensity.close()
    assert expected["sci.carbon"] > 0
    enriched = spans["chat"]
    assert {k: v for k, v in enriched.items() if k in GENAI} == GENAI
    assert {k: enriched[k] for k in expected} == expected
