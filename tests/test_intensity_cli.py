"""``otel-carbon intensity``: offline fallback, a live provider on loopback, forecasts, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from intensity_support import LoopbackServer, refused_url, serve_neso_now

from otel_carbon.cli import main
from otel_carbon.intensity.static import StaticIntensity
from otel_carbon.intensity.zones import zone_for_region

REQUIRED = {"intensity_g_per_kwh", "zone", "source", "fallback", "observed_at"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "ELECTRICITYMAPS_API_KEY",
        "WATTTIME_USERNAME",
        "WATTTIME_PASSWORD",
        "CARBONAWARE_URL",
        "INTENSITY_PROVIDERS",
    ):
        monkeypatch.delenv(f"OTEL_CARBON_{name}", raising=False)
    monkeypatch.setenv("OTEL_CARBON_INTENSITY_CACHE_FILE", str(tmp_path / "intensity.json"))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["intensity", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_no_keys_no_network_answers_from_the_static_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _run(capsys, "--zone", "FR")
    assert code == 0 and REQUIRED <= set(report)
    expected = StaticIntensity.shipped().lookup("FR")
    assert (report["zone"], report["intensity_g_per_kwh"], report["source"]) == ("FR", expected.g_per_kwh, "static")
    assert report["fallback"] is False and report["observed_at"] is None  # static is the configured source


def test_region_form_matches_the_estimate_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _run(capsys, "--region", "aws:eu-west-1")
    assert code == 0
    assert report["requested_zone"] == zone_for_region("aws", "eu-west-1") and report["region"] == "aws:eu-west-1"


def test_unknown_region_and_missing_location_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intensity", "--region", "aws:mars-1", "--json"]) == 2
    assert "unknown cloud region" in capsys.readouterr().err
    assert main(["intensity", "--zone", "XX-NOPE", "--json"]) == 2
    assert "--zone: unknown grid zone 'XX-NOPE'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["intensity", "--json"])
    assert exited.value.code == 2


def test_live_provider_with_forecast_and_best_window(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with LoopbackServer() as server:
        serve_neso_now(server, (186.0, 190.0), (186.0, 150.0, 120.0, 140.0))
        monkeypatch.setenv("OTEL_CARBON_INTENSITY_PROVIDERS", "neso")
        monkeypatch.setenv("OTEL_CARBON_NESO_BASE_URL", server.url)
        code, report = _run(capsys, "--zone", "GB", "--forecast", "--duration", "30", "--within", "2")
    assert code == 0
    assert (report["intensity_g_per_kwh"], report["source"], report["fallback"]) == (190.0, "neso", False)
    assert [p["g_per_kwh"] for p in report["forecast"]] == [186.0, 150.0, 120.0, 140.0]
    best = report["best_window"]
    assert (best["g_per_kwh"], best["fallback"]) == (120.0, False)  # the third half hour, within 2 h


def test_provider_down_answers_flagged_fallback_within_seconds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_CARBON_INTENSITY_PROVIDERS", "neso")
    monkeypatch.setenv("OTEL_CARBON_NESO_BASE_URL", refused_url())
    code, report = _run(capsys, "--zone", "GB", "--forecast")
    assert code == 0
    assert (report["source"], report["fallback"]) == ("static", True)
    assert report["forecast"] == [] and report["best_window"]["fallback"] is True


def test_console_script_runs_offline_in_a_fresh_process(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OTEL_CARBON_INTENSITY_CACHE_FILE": "off"}
    done = subprocess.run(  # no key, no provider: nothing to wait for (the timeout only bounds the test)
        [sys.executable, "-m", "otel_carbon.cli", "intensity", "--zone", "DE", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert REQUIRED <= set(json.loads(done.stdout))
