"""``otel-carbon route`` and ``otel-carbon run``: JSON contracts, planned dips, fallbacks, exit codes and signals.

Forecasts come from loopback NESO and Electricity Maps servers answering the
documented JSON, timed from the real clock (the commands plan from "now").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from intensity_support import API_KEY, LoopbackServer, Reply, iso, serve_neso_now

from otel_carbon.cli import main

DEPLOYMENTS = """
- name: sweden
  provider: azure.ai.openai
  model: gpt-4o-mini
  region: azure:swedencentral
  input_price_per_mtok: 0.165
  output_price_per_mtok: 0.66
  p95_ms: 1400
- name: virginia
  provider: azure.ai.openai
  model: gpt-4o-mini
  region: azure:eastus
  input_price_per_mtok: 0.15
  output_price_per_mtok: 0.60
  p95_ms: 600
- name: poland
  provider: azure.ai.openai
  model: gpt-4o-mini
  zone: PL
  p95_ms: 800
"""
PROVIDER_VARS = ("ELECTRICITYMAPS_API_KEY", "ELECTRICITYMAPS_BASE_URL", "WATTTIME_USERNAME", "WATTTIME_PASSWORD",
                 "CARBONAWARE_URL", "INTENSITY_PROVIDERS", "NESO_BASE_URL")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in PROVIDER_VARS:
        monkeypatch.delenv(f"OTEL_CARBON_{name}", raising=False)
    monkeypatch.setenv("OTEL_CARBON_INTENSITY_CACHE_FILE", str(tmp_path / "intensity.json"))


@pytest.fixture
def deployments(tmp_path: Path) -> Path:
    path = tmp_path / "deployments.yaml"
    path.write_text(DEPLOYMENTS)
    return path


def _json_out(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main([argv[0], "--json", *argv[1:]])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else {}, captured.err


# --- route ------------------------------------------------------------------------------


def test_route_prints_the_choice_the_saving_and_the_ranking(capsys, deployments: Path) -> None:
    code, report, _ = _json_out(capsys, "route", "--deployments", str(deployments), "--input-tokens", "1000",
                                "--output-tokens", "300")
    assert code == 0
    assert (report["chosen"], report["cost_choice"]) == ("sweden", "virginia")
    assert report["saved_g_vs_cheapest"] > 0 and report["carbon_g"] > 0
    ranked = [c["carbon_g"] for c in report["candidates"]]
    assert report["candidates"][0]["name"] == "sweden" and ranked == sorted(ranked)
    poland = next(c for c in report["candidates"] if c["name"] == "poland")
    assert poland["cost_usd"] == pytest.approx((1000 * 0.15 + 300 * 0.60) / 1e6)  # catalogue price (exact match)


def test_route_with_a_live_provider_and_a_latency_limit(capsys, deployments: Path, monkeypatch) -> None:
    values = {"SE-SE3": 400.0, "US-MIDA-PJM": 150.0, "PL": 700.0}  # a bad hour in Sweden
    by_region = {"swedencentral": "SE-SE3", "eastus": "US-MIDA-PJM"}  # asked by dataCenterRegion

    def latest(seen):
        zone = seen.query["zone"][0] if "zone" in seen.query else by_region[seen.query["dataCenterRegion"][0]]
        now = iso(datetime.now(timezone.utc))
        return Reply(body={"zone": zone, "carbonIntensity": values[zone], "datetime": now, "updatedAt": now,
                           "emissionFactorType": "lifecycle"})

    with LoopbackServer() as server:
        server.server_time = datetime.now(timezone.utc)
        server.route(r"/v4/carbon-intensity/latest", latest)
        monkeypatch.setenv("OTEL_CARBON_ELECTRICITYMAPS_API_KEY", API_KEY)
        monkeypatch.setenv("OTEL_CARBON_ELECTRICITYMAPS_BASE_URL", server.url)
        code, report, _ = _json_out(capsys, "route", "--deployments", str(deployments), "--input-tokens", "1000",
                                    "--output-tokens", "300", "--max-latency-ms", "1000")
    assert code == 0 and report["chosen"] == "virginia" and report["saved_g_vs_cheapest"] == 0.0
    assert {c["name"]: c["intensity_source"].split(".")[0] for c in report["candidates"]} == {
        "virginia": "electricitymaps", "poland": "electricitymaps"}
    assert report["excluded"] == [{"name": "sweden", "constraint": "max_latency_ms",
                                   "detail": "p95 1400 ms > 1000 ms"}]


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, [], "cannot read"),
        ("- name: [x\n", [], "not valid YAML"),
        ("- {name: a, provider: openai, model: m}\n", [], "exactly one of region"),
        (DEPLOYMENTS, ["--max-latency-ms", "100"], "max_latency_ms excludes sweden"),
        (DEPLOYMENTS, ["--max-cost-usd", "0.000000001"], "max_cost_usd excludes"),
        (DEPLOYMENTS, ["--allowed-region", "JP"], "allowed_regions excludes"),
    ],
)
def test_route_bad_file_or_unmet_constraints_exit_2_with_one_line(capsys, tmp_path, content, extra, message) -> None:
    path = tmp_path / "d.yaml"
    if content is not None:
        path.write_text(content)
    code = main(["route", "--deployments", str(path), "--input-tokens", "10", "--output-tokens", "10", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and err.startswith("otel-carbon route: error:")


# --- run --------------------------------------------------------------------------------


def test_run_plans_the_neso_dip(capsys, monkeypatch) -> None:
    values = (210.0, 190.0, 170.0, 60.0, 150.0, 220.0, 230.0, 240.0)  # the dip: the fourth half hour
    with LoopbackServer() as server:
        now, half = serve_neso_now(server, (210.0, 205.0), values)
        monkeypatch.setenv("OTEL_CARBON_INTENSITY_PROVIDERS", "neso")
        monkeypatch.setenv("OTEL_CARBON_NESO_BASE_URL", server.url)
        code, plan, _ = _json_out(capsys, "run", "--zone", "GB", "--within", "4h", "--duration", "30m", "--dry-run",
                                  "--", "true")
    assert code == 0
    dip = half + timedelta(minutes=90)
    assert datetime.fromisoformat(plan["start"]) == dip
    assert plan["delay_s"] == pytest.approx((dip - now).total_seconds(), abs=60)
    assert (plan["expected_g_per_kwh"], plan["zone"], plan["fallback"]) == (60.0, "GB", False)
    assert plan["now_g_per_kwh"] > 170.0


def test_run_plans_the_electricitymaps_dip(capsys, monkeypatch) -> None:
    now = datetime.now(timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0)
    values = (420.0, 400.0, 380.0, 390.0, 120.0, 130.0, 400.0, 410.0)  # dip from hour + 4 h for two hours
    forecast = {"zone": "DE", "forecast": [{"carbonIntensity": v, "datetime": iso(hour + timedelta(hours=i))}
                                           for i, v in enumerate(values)], "updatedAt": iso(now)}
    latest = {"zone": "DE", "carbonIntensity": 420.0, "datetime": iso(hour), "updatedAt": iso(now)}
    with LoopbackServer() as server:
        server.server_time = now
        server.route(r"/v4/carbon-intensity/latest", Reply(body=latest))
        server.route(r"/v4/carbon-intensity/forecast", Reply(body=forecast))
        monkeypatch.setenv("OTEL_CARBON_ELECTRICITYMAPS_API_KEY", API_KEY)
        monkeypatch.setenv("OTEL_CARBON_ELECTRICITYMAPS_BASE_URL", server.url)
        code, plan, _ = _json_out(capsys, "run", "--region", "gcp:europe-west3", "--within", "8h",
                                  "--duration", "2h", "--dry-run", "--", "true")
    assert code == 0
    assert datetime.fromisoformat(plan["start"]) == hour + timedelta(hours=4)
    assert (plan["expected_g_per_kwh"], plan["fallback"]) == (125.0, False)


def test_run_without_a_provider_starts_now_flagged_fallback(capsys) -> None:
    code, plan, _ = _json_out(capsys, "run", "--zone", "FR", "--within", "8h", "--dry-run", "--", "true")
    assert code == 0
    assert (plan["delay_s"], plan["fallback"], plan["source"]) == (0.0, True, "static")
    assert plan["now_g_per_kwh"] == plan["expected_g_per_kwh"]


def test_run_passes_the_exit_code_and_reports_measured_energy(capsys) -> None:
    busy = "s = 0\nfor i in range(2_000_000): s += i\nraise SystemExit(7)"
    code = main(["run", "--zone", "FR", "--within", "1h", "--json", "--", sys.executable, "-c", busy])
    report = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert code == 7 and report["exit_code"] == 7
    assert report["fallback"] is True and report["achieved_g_per_kwh"] == report["expected_g_per_kwh"]
    assert report["energy_j"] is not None and report["energy_j"] > 0 and report["energy_source"]
    assert report["saved_g"] == 0.0  # started now at the static average: nothing saved, and it says so


def _run_child(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OTEL_CARBON_INTENSITY_CACHE_FILE": "off", "OTEL_CARBON_INTENSITY_PROVIDERS": "none"}
    argv = [sys.executable, "-m", "otel_carbon.cli", "run", "--zone", "FR", "--within", "1h", "--",
            sys.executable, "-c", "import signal, sys, time\n" + code + "\nprint('ready', flush=True)\n"
            "for _ in range(600): time.sleep(0.1)\n"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize(
    ("handler", "sent", "expected"),
    [
        ("signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))", signal.SIGTERM, 42),  # the child's own exit
        ("", signal.SIGINT, 128 + signal.SIGINT),  # the child died of it: the shell's convention
    ],
)
def test_run_passes_signals_on_and_the_childs_exit_status(handler: str, sent: int, expected: int) -> None:
    proc = _run_child(handler)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(sent)
        assert proc.wait(timeout=60) == expected  # the timeout only bounds the test
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.communicate()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--zone", "FR", "--within", "8x", "--", "true"], "expected a duration"),
        (["--zone", "FR", "--within", "1h", "--duration", "2h", "--", "true"], "must be positive and fit"),
        (["--region", "aws:mars-1", "--within", "1h", "--", "true"], "unknown cloud region"),
        (["--zone", "FR", "--within", "1h"], "no command given"),
        (["--zone", "FR", "--within", "1h", "--", "/nonexistent/command"], "cannot start"),
    ],
)
def test_run_bad_input_exits_2_with_one_line(capsys, argv, message) -> None:
    try:
        code = main(["run", *argv])
    except SystemExit as exited:  # argparse type errors
        code = exited.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
