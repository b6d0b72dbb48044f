"""The ``otel-carbon`` command: the estimate JSON contract, bad arguments, and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from otel_carbon import semconv as sc
from otel_carbon.cli import demo, main

CONTRACT_KEYS = {
    "energy_j", "carbon_g", "operational_g", "embodied_g", "intensity_g_per_kwh", "zone",
    "method", "boundary", "layers_j", "cost_usd", "model_match",
}


def estimate(capsys, *args: str) -> dict:
    code = main(["estimate", "--provider", "openai", "--model", "gpt-4o-mini", "--input-tokens", "1000",
                 "--output-tokens", "500", *args, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def test_estimate_json_contract(capsys):
    report = estimate(capsys, "--zone", "FR")
    assert CONTRACT_KEYS <= report.keys()
    for key in ("energy_j", "carbon_g"):
        assert set(report[key]) == {"low", "mid", "high"}
        assert report[key]["low"] <= report[key]["mid"] <= report[key]["high"]
    assert set(report["layers_j"]) == {"accelerator", "host", "idle", "overhead"}
    assert sum(report["layers_j"].values()) == pytest.approx(report["energy_j"]["mid"])
    assert report["zone"] == "FR" and report["method"] == "estimated" and report["model_match"] == "exact"
    assert report["carbon_g"]["mid"] == pytest.approx(report["operational_g"] + report["embodied_g"])
    assert report["operational_g"] == pytest.approx(report["energy_j"]["mid"] / 3.6e6 * report["intensity_g_per_kwh"])


def test_accelerator_boundary_is_the_accelerator_layer_alone(capsys):
    full = estimate(capsys, "--zone", "FR")
    naive = estimate(capsys, "--zone", "FR", "--boundary", "accelerator")
    assert naive["boundary"] == "accelerator"
    assert naive["energy_j"]["mid"] == pytest.approx(full["layers_j"]["accelerator"])
    assert naive["layers_j"]["host"] == naive["layers_j"]["idle"] == naive["layers_j"]["overhead"] == 0


def test_cleaner_grid_gives_less_carbon_for_the_same_energy(capsys):
    france, poland = estimate(capsys, "--zone", "FR"), estimate(capsys, "--zone", "PL")
    assert france["energy_j"] == poland["energy_j"]
    assert france["operational_g"] / poland["operational_g"] == pytest.approx(
        france["intensity_g_per_kwh"] / poland["intensity_g_per_kwh"]
    )


def test_region_maps_to_its_grid_zone(capsys):
    report = estimate(capsys, "--region", "aws:eu-west-1")
    assert report["zone"] == "IE"


def test_cached_tokens_reduce_energy_and_cost(capsys):
    plain = estimate(capsys, "--zone", "FR")
    cached = estimate(capsys, "--zone", "FR", "--cached-input-tokens", "800")
    assert cached["energy_j"]["mid"] < plain["energy_j"]["mid"]
    assert cached["cost_usd"] < plain["cost_usd"]


def test_unknown_model_is_estimated_by_fallback_class_and_says_so(capsys):
    code = main(["estimate", "--provider", "openai", "--model", "acme-ultra-9000", "--input-tokens", "10",
                 "--output-tokens", "10", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["model_match"] in ("pattern", "default")
    assert report["cost_usd"] is None
    assert report["energy_j"]["mid"] > 0
    assert main(["estimate", "--provider", "openai", "--model", "acme-ultra-9000", "--input-tokens", "10",
                 "--output-tokens", "10"]) == 0
    assert "NOT IN THE CATALOGUE" in capsys.readouterr().out.splitlines()[0]


ESTIMATE = ["estimate", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1"]


@pytest.mark.parametrize(
    "argv, env, named",
    [
        ([*ESTIMATE, "--provider", "openai", "--zone", "XX-NOPE"], {}, "--zone: unknown grid zone 'XX-NOPE'"),
        ([*ESTIMATE, "--provider", "bogusprov"], {}, "--provider: unknown provider 'bogusprov'"),
        (["intensity", "--zone", "XX-NOPE"], {}, "--zone: unknown grid zone 'XX-NOPE'"),
        (["collector", "ottl", "--model", "bogusprov/gpt-4o"], {}, "unknown provider 'bogusprov'"),
        ([*ESTIMATE, "--provider", "openai"], {"OTEL_CARBON_REMOTE_ZONE": "XX-NOPE"}, "OTEL_CARBON_REMOTE_ZONE"),
        (["intensity", "--zone", "FR"], {"OTEL_CARBON_ZONE": "XX-NOPE"}, "OTEL_CARBON_ZONE"),
        (["collector", "ottl", "--model", "openai/gpt-4o"], {"OTEL_CARBON_PROVIDER_ZONES": "openai=XX-NOPE"},
         "OTEL_CARBON_PROVIDER_ZONES"),
        (["collector", "--upstream", "127.0.0.1:9", "--metrics-port", "0", "--http-port", "0"],
         {"OTEL_CARBON_ZONE": "XX-NOPE"}, "OTEL_CARBON_ZONE"),
        (["demo"], {"OTEL_CARBON_ZONE": "XX-NOPE"}, "OTEL_CARBON_ZONE"),
    ],
    ids=["estimate-zone", "estimate-provider", "intensity-zone", "ottl-provider", "estimate-env-zone",
         "intensity-env-zone", "ottl-env-provider-zone", "collector-env-zone", "demo-env-zone"],
)
def test_unknown_zone_or_provider_exits_2_with_one_line_in_every_command(argv, env, named):
    """No command prices a typo at the world average: exit 2, one line naming the value or variable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | env
    result = subprocess.run([sys.executable, "-m", "otel_carbon.cli", *argv], check=False, capture_output=True,
                            text=True, timeout=60, env=environ)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("zone", ["FR", "fr", "US-CAL-CISO", "GB-NESO-13", "WORLD"])
def test_known_zones_and_their_sub_zones_are_accepted(capsys, zone):
    report = estimate(capsys, "--zone", zone)
    assert report["zone"] != "WORLD" or zone == "WORLD"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input-tokens", "-1"], "whole number >= 0"),
        (["--input-tokens", "many"], "whole number"),
        (["--region", "nowhere"], "PROVIDER:REGION"),
        (["--region", "aws:mars-1"], "unknown cloud region"),
        (["--boundary", "galaxy"], "invalid choice"),
        (["--zone", "FR", "--region", "aws:eu-west-1"], "not allowed with"),
        (["--cached-input-tokens", "5000"], "cannot exceed"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message):
    base = ["--provider", "openai", "--model", "gpt-4o", "--input-tokens", "100", "--output-tokens", "10"]
    argv = base + args  # argparse: a repeated flag's last value wins
    result = subprocess.run([sys.executable, "-m", "otel_carbon.cli", "estimate", *argv, "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert result.stdout == ""


def test_bad_environment_setting_exits_2_naming_the_variable():
    env = dict(os.environ, OTEL_CARBON_BOUNDARY="everything")
    result = subprocess.run([sys.executable, "-m", "otel_carbon.cli", "estimate", "--provider", "openai",
                             "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1", "--json"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "OTEL_CARBON_BOUNDARY" in result.stderr


def test_demo_prints_a_line_item_table(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "g CO2e" in out and "total" in out
    for call in demo.WORKLOAD:
        assert call.model in out


def test_demo_table_sums_the_enriched_spans():
    from otel_carbon.config import CarbonSettings

    spans = demo.run_workload(demo.WORKLOAD, CarbonSettings(zone="DE"))
    assert len(spans) == len(demo.WORKLOAD)
    assert all(sc.SCI_CARBON in s.attributes for s in spans)
    items = demo.line_items(spans)
    assert sum(i.requests for i in items.values()) == len(demo.WORKLOAD)
    assert sum(i.carbon_g for i in items.values()) == pytest.approx(sum(s.attributes[sc.SCI_CARBON] for s in spans))
    zones = {zone for _, zone in items}
    assert "DE" in zones and len(zones) >= 2  # the local model runs here; remote providers elsewhere


def test_demo_drives_the_real_sdks_through_our_instrumentation():
    from otel_carbon.config import CarbonSettings

    spans = demo.run_workload(demo.WORKLOAD, CarbonSettings(zone="DE"), real_sdks=True)
    real = [s for s in spans if s.instrumentation_scope.name.startswith("otel_carbon.instrumentations")]
    assert {s.attributes["gen_ai.provider.name"] for s in real} == {"openai", "anthropic"}
    assert any(s.attributes.get("gen_ai.request.stream") for s in real)
    for span in real:
        assert span.attributes["server.address"] in ("api.openai.com", "api.anthropic.com")
        assert span.attributes[sc.SCI_INTENSITY_ZONE] == "US"  # the providers' serving zone, not this machine's
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert sc.SCI_CARBON in span.attributes
    synthetic = [s for s in spans if s not in real]
    assert len(synthetic) == len(demo.WORKLOAD) - len(demo.SDK_WORKLOAD)
