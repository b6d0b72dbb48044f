"""``opentelemetry-instrument python app.py``: an unchanged app leaves carbon-enriched spans over real OTLP/gRPC."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from otlp_receiver import OTLPReceiver

from otel_carbon.cli.demo_server import COMPLETION_TOKENS, PROMPT_TOKENS, LLMServer

APP = Path(__file__).parent / "apps" / "sample_app.py"
MANY_CALLS = Path(__file__).parent / "apps" / "many_calls.py"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"


def run_app(
    receiver: OTLPReceiver, server: LLMServer, app: Path = APP, **extra_env: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLM_"))}
    env.update({
        "LLM_BASE_URL": server.url,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_SERVICE_NAME": "sample-app",
        "OTEL_CARBON_ZONE": "FR",
        **extra_env,
    })
    return subprocess.run([str(INSTRUMENT), sys.executable, str(app)], check=False, env=env, capture_output=True, text=True,
                          timeout=120)


def test_unchanged_app_exports_genai_spans_with_carbon_and_metrics():
    with LLMServer() as server, OTLPReceiver() as receiver:
        # The demo server answers for gpt-4o-mini: naming it as local inference keeps it measured here.
        result = run_app(receiver, server, OTEL_CARBON_LOCAL_ENDPOINTS="127.0.0.1")
        assert result.returncode == 0, result.stderr
        assert "sample app done" in result.stdout
        chats = [attrs for name, attrs in receiver.spans if name == "chat gpt-4o-mini"]
        assert len(chats) == 2, receiver.spans
        for attrs in chats:
            assert attrs["gen_ai.provider.name"] == "openai"
            assert attrs["gen_ai.usage.input_tokens"] == PROMPT_TOKENS
            assert attrs["gen_ai.usage.output_tokens"] == COMPLETION_TOKENS
            assert attrs["sci.carbon"] > 0 and attrs["sci.energy"] > 0
            assert attrs["sci.intensity.zone"] == "FR"  # a loopback server is local work
            assert "sk-sample-app-key" not in repr(attrs)
            # a loopback server is measured, not estimated: the distro installed the energy meter
            assert attrs["sci.energy.method"] == "measured", attrs
            assert attrs["sci.measured.host"] > 0
        assert {"sci.carbon", "sci.energy", "sci.carbon.request"} <= receiver.metric_names  # hw.* only for NVML/RAPL devices


def test_disabled_instrumentation_leaves_no_genai_span():
    with LLMServer() as server, OTLPReceiver() as receiver:
        result = run_app(receiver, server, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai")
        assert result.returncode == 0, result.stderr
        assert not [name for name, _ in receiver.spans if name.startswith("chat")]


def test_bad_carbon_setting_fails_at_startup_naming_the_variable():
    with LLMServer() as server, OTLPReceiver() as receiver:
        result = run_app(receiver, server, OTEL_CARBON_BOUNDARY="galaxy")
        assert "OTEL_CARBON_BOUNDARY" in result.stderr


def _carbon_totals(receiver: OTLPReceiver) -> tuple[int, float]:
    """Calls counted (the per-request histogram's count) and their carbon (the counter's sum), g CO2e."""
    requests = sum(p.count for p in receiver.metric_points.get("sci.carbon.request", ()))
    carbon = sum(p.as_double for p in receiver.metric_points.get("sci.carbon", ()))
    return requests, carbon


SAMPLING = {
    "always_on": {"OTEL_TRACES_SAMPLER": "always_on"},
    "traceidratio-0.1": {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "always_off": {"OTEL_TRACES_SAMPLER": "always_off"},
    "exporter-none": {"OTEL_TRACES_EXPORTER": "none"},
}


def test_every_call_is_counted_whatever_the_sampler_or_exporter():
    calls = 100
    totals = {}
    for label, sampling in SAMPLING.items():
        with LLMServer() as server, OTLPReceiver() as receiver:
            result = run_app(receiver, server, MANY_CALLS, LLM_CALLS=str(calls), **sampling)
            assert result.returncode == 0, result.stderr
        totals[label] = _carbon_totals(receiver)
        sampled = [attrs for name, attrs in receiver.spans if name == "chat gpt-4o-mini"]
        assert all(attrs["sci.counted"] is True for attrs in sampled)
        if label == "always_on":  # every span exported: the spans' sum is the metrics' sum
            assert len(sampled) == calls
            assert sum(attrs["sci.carbon"] for attrs in sampled) == pytest.approx(totals[label][1], rel=1e-9)
        if label == "traceidratio-0.1":
            assert 0 < len(sampled) < calls / 2
            assert result.stderr.count("are counted only when sampled") == 1  # said once, at start-up
        if label in ("always_off", "exporter-none"):
            assert not sampled
    reference = totals["always_on"]
    assert reference[0] == calls and reference[1] > 0
    for label, (requests, carbon) in totals.items():
        assert requests == calls, label
        assert carbon == pytest.approx(reference[1], rel=1e-9), label
