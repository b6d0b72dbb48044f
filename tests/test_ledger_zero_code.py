"""Zero-code: ``opentelemetry-instrument`` with ``OTEL_CARBON_LEDGER`` writes one line item per counted call;
the report's totals are the counted spans' ``sci.carbon``, grouped by the ``app.feature`` baggage entry."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

from otlp_receiver import OTLPReceiver
from test_zero_code import run_app

from otel_carbon.cli import main
from otel_carbon.cli.demo_server import LLMServer

APP = Path(__file__).parent / "apps" / "ledger_app.py"
FEATURE_OF_MODEL = {"gpt-4o-mini": "summarise", "gpt-4o": "search"}


def report_json(url: str, capsys, *by: str) -> dict:
    """The JSON report of the days around now (the calls were just made)."""
    today = datetime.now(timezone.utc).date()
    days = [(today + timedelta(days=d)).isoformat() for d in (-1, 1)]
    assert main(["report", "--ledger", url, "--from", days[0], "--to", days[1], "--by", ",".join(by),
                 "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def run(tmp_path: Path, name: str, calls: int, **env: str) -> tuple[str, OTLPReceiver]:
    url = f"sqlite:///{tmp_path / name}"
    with LLMServer() as server, OTLPReceiver() as receiver:
        result = run_app(receiver, server, APP, LLM_CALLS=str(calls), OTEL_CARBON_LEDGER=url,
                         OTEL_CARBON_DIMENSIONS="app.feature", **env)
        assert result.returncode == 0, result.stderr
        assert "ledger app done" in result.stdout
    return url, receiver


def test_report_totals_are_the_counted_spans_by_feature(tmp_path, capsys):
    url, receiver = run(tmp_path, "app.db", 30, OTEL_TRACES_SAMPLER="always_on")
    counted = [attrs for name, attrs in receiver.spans if name.startswith("chat") and attrs.get("sci.counted")]
    assert len(counted) == 30
    doc = report_json(url, capsys, "feature")
    assert doc["totals"]["calls"] == 30
    assert math.isclose(doc["totals"]["carbon_g"], sum(a["sci.carbon"] for a in counted), rel_tol=1e-9)
    by_feature = {row["feature"]: row for row in doc["rows"]}
    assert set(by_feature) == {"summarise", "search"}
    for model, feature in FEATURE_OF_MODEL.items():
        spans = [a["sci.carbon"] for a in counted if a["gen_ai.request.model"] == model]
        assert by_feature[feature]["calls"] == len(spans) == 15
        assert math.isclose(by_feature[feature]["carbon_g"], sum(spans), rel_tol=1e-9)
    assert doc["totals"]["cost_usd"] > 0 and doc["scopes"]["scope3_cat1"]["calls"] == 30


def test_a_ten_percent_sampled_run_is_still_complete(tmp_path, capsys):
    full, _ = run(tmp_path, "full.db", 40, OTEL_TRACES_SAMPLER="always_on")
    sampled, receiver = run(tmp_path, "sampled.db", 40, OTEL_TRACES_SAMPLER="traceidratio",
                            OTEL_TRACES_SAMPLER_ARG="0.1")
    assert len([n for n, _ in receiver.spans if n.startswith("chat")]) < 20  # most spans were not exported
    reference = report_json(full, capsys, "feature")
    doc = report_json(sampled, capsys, "feature")
    assert doc["totals"]["calls"] == 40
    assert math.isclose(doc["totals"]["carbon_g"], reference["totals"]["carbon_g"], rel_tol=1e-9)
    assert {r["feature"]: r["calls"] for r in doc["rows"]} == {"summarise": 20, "search": 20}


def test_an_unusable_ledger_never_breaks_the_app(tmp_path, capsys):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 500)
    with LLMServer() as server, OTLPReceiver() as receiver:
        result = run_app(receiver, server, APP, LLM_CALLS="6", OTEL_CARBON_LEDGER=f"sqlite:///{garbage}",
                         OTEL_CARBON_DIMENSIONS="app.feature")
    assert result.returncode == 0 and "ledger app done" in result.stdout, result.stderr
    assert len([n for n, a in receiver.spans if n.startswith("chat") and a.get("sci.counted")]) == 6
    assert result.stderr.count("not a readable otel-carbon ledger") == 1  # said once
    assert main(["report", "--ledger", f"sqlite:///{garbage}", "--period", "2026"]) == 2
    assert "not a readable otel-carbon ledger" in capsys.readouterr().err
