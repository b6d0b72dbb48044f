"""A quiet front under ``opentelemetry-instrument``: energy-meter messages only where local inference
runs, at INFO; a bad ``OTEL_CARBON_*`` setting is one line on stderr and the app and its telemetry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).parent / "apps" / "quiet_app.py"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"


def run_app(mode: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
                "OTEL_SERVICE_NAME": "quiet-app", **extra_env})
    result = subprocess.run([str(INSTRUMENT), sys.executable, str(APP), mode], check=False, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "quiet app done" in result.stdout
    return result


def ours(stderr: str) -> list[str]:
    """Log lines of otel-carbon's loggers (the app logs as ``LEVEL logger message``)."""
    return [line for line in stderr.splitlines() if line.split(" ")[1:2] and line.split(" ")[1].startswith("otel_carbon")
            ]


def spans(stdout: str) -> list[dict]:
    """The console exporter's spans (pretty-printed JSON objects, one after another)."""
    decoder, found, text = json.JSONDecoder(), [], stdout[stdout.find("{"):]
    while text.strip().startswith("{"):
        span, end = decoder.raw_decode(text)
        found.append(span)
        text = text[end:].lstrip()
    return found


def chat_span(stdout: str) -> dict:
    (span,) = [s for s in spans(stdout) if s["name"].startswith("chat ")]
    return span["attributes"]


def test_remote_only_app_logs_nothing_about_energy_meters_even_at_debug():
    result = run_app("remote")
    assert ours(result.stderr) == [], result.stderr
    for word in ("NVML", "RAPL", "TDP", "pynvml"):
        assert word not in result.stderr
    attributes = chat_span(result.stdout)
    assert attributes["sci.energy.method"] == "estimated" and attributes["sci.carbon"] > 0


def test_local_inference_builds_the_meter_and_says_only_info():
    result = run_app("local")
    assert chat_span(result.stdout)["sci.energy.method"] == "measured"  # the meter was built on first use
    assert not [line for line in ours(result.stderr) if not line.startswith(("INFO ", "DEBUG "))], result.stderr


def test_bad_setting_is_one_line_naming_the_variable_and_the_app_keeps_its_telemetry():
    result = run_app("remote", OTEL_CARBON_BOUNDARY="galaxy")
    lines = [line for line in result.stderr.splitlines() if "otel-carbon" in line or "Traceback" in line]
    assert len(lines) == 1 and "OTEL_CARBON_BOUNDARY='galaxy'" in lines[0], result.stderr
    assert "accelerator, comprehensive" in lines[0]
    attributes = chat_span(result.stdout)  # traces still flow, without carbon
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini" and "sci.carbon" not in attributes
