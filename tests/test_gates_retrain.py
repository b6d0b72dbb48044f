"""The retraining guard (RES): decisions, the decision span, energy from OTLP/JSON spans, the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToJson
from intensity_support import LoopbackServer, serve_neso_now
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_carbon import semconv as sc
from otel_carbon.cli import main
from otel_carbon.gates.retrain import decide, energy_from_otlp_json, res_score
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityReading
from otel_carbon.intensity.static import StaticIntensity

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
KWH = 3.6e6


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ELECTRICITYMAPS_API_KEY", "WATTTIME_USERNAME", "WATTTIME_PASSWORD", "CARBONAWARE_URL",
                 "INTENSITY_PROVIDERS"):
        monkeypatch.delenv(f"OTEL_CARBON_{name}", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_CARBON_INTENSITY_CACHE_FILE", str(tmp_path / "intensity.json"))


def memory_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_res_is_points_per_kg_co2e():
    # 10 kWh at 500 gCO2e/kWh = 5 kg; 2 points gained → 0.4 points per kg
    assert res_score(2.0, 10 * KWH, 500.0) == pytest.approx(0.4)


def test_retrain_and_skip_on_the_static_table_with_the_decision_span():
    provider, exporter = memory_provider()
    fr = StaticIntensity.shipped().lookup("FR").g_per_kwh
    go = decide(expected_gain=2.0, energy_j=5 * KWH, zone="FR", min_score=1.0, now=NOW, tracer_provider=provider)
    assert go.decision == "retrain" and go.carbon_g == pytest.approx(5 * fr)
    assert go.score == pytest.approx(2.0 / (5 * fr / 1000))
    stop = decide(expected_gain=2.0, energy_j=50 * KWH, zone="PL", min_score=1.0, now=NOW, tracer_provider=provider)
    assert stop.decision == "skip" and "<" in stop.reason
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["retrain_gate", "retrain_gate"]
    attributes = spans[1].attributes
    assert attributes[sc.SCI_RES_DECISION] == "skip" and attributes[sc.SCI_RES_ZONE] == "PL"
    assert attributes[sc.SCI_RES_ENERGY] == 50 * KWH and attributes[sc.SCI_RES_EXPECTED_GAIN] == 2.0
    assert sc.SCI_CARBON not in attributes  # expected carbon never adds to the sums of counted calls


def _forecast_cache(values: tuple[float, ...], now_value: float) -> IntensityCache:
    cache = IntensityCache(clock=lambda: NOW.timestamp())
    points = tuple(ForecastPoint(NOW + timedelta(hours=i), NOW + timedelta(hours=i + 1), v)
                   for i, v in enumerate(values))
    cache.update_forecast(Forecast("DE", "test", points))
    cache.update(IntensityReading(g_per_kwh=now_value, zone="DE", source="test", observed_at=NOW))
    return cache


def test_defer_to_a_cleaner_window_before_the_deadline():
    cache = _forecast_cache((400.0, 380.0, 120.0, 300.0), now_value=400.0)
    decision = decide(expected_gain=1.0, energy_j=10 * KWH, zone="DE", min_score=0.5, intensity=cache, now=NOW,
                      deadline=NOW + timedelta(hours=4), duration=timedelta(hours=1))
    # now: 4 kg → 0.25 < 0.5; in the 120 g window: 1.2 kg → 0.83 ≥ 0.5
    assert decision.decision == "defer" and decision.window_start == NOW + timedelta(hours=2)
    assert decision.score == pytest.approx(1.0 / 1.2) and decision.score_now == pytest.approx(0.25)
    too_late = decide(expected_gain=1.0, energy_j=10 * KWH, zone="DE", min_score=0.5, intensity=cache, now=NOW,
                      deadline=NOW + timedelta(hours=2), duration=timedelta(hours=1))
    assert too_late.decision == "skip" and "best window" in too_late.reason


@pytest.mark.parametrize("kwargs", [{"expected_gain": -1.0}, {"expected_gain": float("nan")}, {"energy_j": 0.0},
                                    {"min_score": -2.0}, {"deadline": NOW - timedelta(hours=1)}])
def test_bad_inputs_raise(kwargs):
    base = {"expected_gain": 1.0, "energy_j": KWH, "zone": "FR", "min_score": 1.0, "now": NOW}
    with pytest.raises(ValueError):
        decide(**{**base, **kwargs})


def _otlp_json(tmp_path: Path) -> Path:
    """Real spans of a training run (measured window attributes), encoded as the Collector's file exporter does."""
    provider, exporter = memory_provider()
    tracer = provider.get_tracer("training")
    with tracer.start_as_current_span("train", attributes={sc.SCI_MEASURED_ACCELERATOR: 1.8e6,
                                                           sc.SCI_MEASURED_HOST: 0.2e6}):
        pass
    with tracer.start_as_current_span("evaluate", attributes={sc.SCI_ENERGY: 0.5e6}):
        pass
    with tracer.start_as_current_span("train", attributes={sc.SCI_ENERGY: 9e9, sc.SCI_COUNTED: False}):
        pass
    path = tmp_path / "spans.json"
    path.write_text(MessageToJson(encode_spans(exporter.get_finished_spans()), indent=None) + "\n")
    return path


def test_training_energy_from_otlp_json_spans(tmp_path: Path):
    path = _otlp_json(tmp_path)
    assert energy_from_otlp_json(str(path)) == pytest.approx(2.5e6)
    assert energy_from_otlp_json(str(path), span_name="train") == pytest.approx(2.0e6)
    with pytest.raises(ValueError, match="no span with energy"):
        energy_from_otlp_json(str(path), span_name="nothing")


# --- otel-carbon retrain-gate ----------------------------------------------------------------


def _gate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["retrain-gate", *argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else {}, captured.err


def test_cli_exit_codes_for_orchestrators(capsys, tmp_path):
    code, report, _ = _gate(capsys, "--expected-gain", "2", "--energy-kwh", "5", "--zone", "FR")
    assert code == 0 and report["decision"] == "retrain"
    assert {"decision", "score", "carbon_g", "threshold", "window"} <= set(report)
    code, report, _ = _gate(capsys, "--expected-gain", "2", "--energy-kwh", "50", "--region", "aws:ap-south-1")
    assert code == 99 and report["decision"] == "skip" and report["zone"].startswith("IN")
    code, report, _ = _gate(capsys, "--expected-gain", "1", "--from-spans", str(_otlp_json(tmp_path)),
                            "--span-name", "train", "--zone", "FR")
    assert code == 0 and report["energy_kwh"] == pytest.approx(2.0e6 / KWH)


@pytest.mark.parametrize("argv", [
    ["--expected-gain", "-1", "--energy-kwh", "5", "--zone", "FR"],
    ["--expected-gain", "1", "--energy-kwh", "0", "--zone", "FR"],
    ["--expected-gain", "1", "--energy-kwh", "5", "--zone", "FR", "--deadline", "yesterday"],
    ["--expected-gain", "1", "--energy-kwh", "5", "--zone", "FR", "--deadline", "2020-01-01T00:00"],
    ["--expected-gain", "1", "--from-spans", "/nonexistent/spans.json", "--zone", "FR"],
    ["--expected-gain", "1", "--energy-kwh", "5", "--region", "aws:mars-1"],
    ["--expected-gain", "1", "--energy-kwh", "5", "--zone", "FR", "--span-name", "train"],
])
def test_cli_bad_input_exits_2_with_one_line(capsys, argv):
    try:
        code = main(["retrain-gate", *argv])
    except SystemExit as exited:
        code = exited.code
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and len(captured.err.strip().splitlines()) == 1


def test_cli_unusable_provider_config_exits_2_with_one_line(capsys, monkeypatch):
    monkeypatch.setenv("OTEL_CARBON_INTENSITY_PROVIDERS", "electricitymaps")
    monkeypatch.delenv("OTEL_CARBON_ELECTRICITYMAPS_API_KEY", raising=False)
    code, report, err = _gate(capsys, "--expected-gain", "1", "--energy-kwh", "5", "--zone", "FR")
    assert code == 2 and report == {} and len(err.strip().splitlines()) == 1
    assert "electricitymaps" in err


def test_cli_defers_on_a_live_forecast(capsys, monkeypatch):
    """NESO (keyless) on loopback: 190 g now, 120 g in an hour → defer with the window."""
    with LoopbackServer() as server:
        serve_neso_now(server, (186.0, 190.0), (186.0, 150.0, 120.0, 140.0))
        monkeypatch.setenv("OTEL_CARBON_INTENSITY_PROVIDERS", "neso")
        monkeypatch.setenv("OTEL_CARBON_NESO_BASE_URL", server.url)
        # 10 kWh: 1.9 kg now → 0.53 points/kg; 1.2 kg at 120 g → 0.83 ≥ 0.7
        code, report, err = _gate(capsys, "--expected-gain", "1", "--energy-kwh", "10", "--zone", "GB",
                                  "--min-score", "0.7", "--duration", "30", "--deadline", "+2h")
    assert code == 75, err
    assert report["decision"] == "defer" and report["intensity_g_per_kwh"] == 120.0
    assert report["window"]["start"] > datetime.now(timezone.utc).isoformat()[:16]
