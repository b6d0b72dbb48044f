"""The budgets file and ``otel-carbon budgets``: validation that names the key, one-line errors with exit 2,
outputs written whole or not at all, and ``status`` from a real ledger (SQLite) with exact sums."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from ledger_support import accountant, count_calls

from otel_carbon.budgets.forecast import WEEK_S, forecast_at_end
from otel_carbon.budgets.spec import BudgetError, budgets_from_mapping
from otel_carbon.cli import main
from otel_carbon.ledger import LedgerSink, open_ledger

GOOD = {"name": "search", "owner": "search-team", "selector": {"team": "search"}, "period": "month",
        "limits": {"carbon": "2 kg", "energy": "1.5 kWh", "cost": 30}}


def write(tmp_path: Path, *budgets: dict, **top: object) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(yaml.safe_dump({"budgets": list(budgets), **top}))
    return path


def test_limits_units_thresholds_and_defaults():
    (budget,) = budgets_from_mapping({"budgets": [
        {**GOOD, "thresholds": {"actual": ["50%", 0.9, "100%"], "forecast": ["110%"]},
         "anomaly": {"metrics": ["carbon", "cost"], "factor": 2}}]}).budgets
    assert budget.limits == {"carbon": 2000.0, "energy": 1.5 * 3.6e6, "cost": 30.0}
    assert budget.actual == (0.5, 0.9, 1.0) and budget.forecast == (1.1,)
    assert budget.anomaly is not None and budget.anomaly.kinds == ("carbon", "cost") and budget.anomaly.window_s == 3600
    assert budget.for_s == {"actual": 300, "forecast": 3600, "anomaly": 1800}


@pytest.mark.parametrize(("change", "key"), [
    ({"selector": {"squad": "x"}}, "selector.squad"),
    ({"limits": {"carbon": "-5 kg"}}, "limits.carbon"),
    ({"limits": {"carbon": "5 lb"}}, "limits.carbon"),
    ({"limits": {"water": 3}}, "limits.water"),
    ({"limits": {}}, "limits"),
    ({"period": "fortnight"}, "period"),
    ({"period": {"start": "2026-01-01", "every": "soon"}}, "period.every"),
    ({"thresholds": {"actual": ["-10%"]}}, "thresholds.actual"),
    ({"anomaly": {"factor": 0.5}}, "anomaly.factor"),
    ({"labels": {"severity": "page"}}, "labels.severity"),
    ({"owner": ""}, "owner"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_budget_files_name_the_key(change, key):
    with pytest.raises(BudgetError, match=key.replace(".", r"\.")):
        budgets_from_mapping({"budgets": [{**GOOD, **change}]})


@pytest.mark.parametrize(("change", "words"), [
    ({"selector": {"squad": "x"}}, "selector.squad: unknown dimension"),
    ({"limits": {"carbon": -1}}, "limits.carbon: must be a finite number > 0"),
    ({"period": "fortnight"}, "period: unknown period"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_half_written(tmp_path, capsys, change, words):
    path = write(tmp_path, {**GOOD, **change})
    output = tmp_path / "rules.yml"
    output.write_text("previous rules\n")
    for action in ("rules", "alertmanager"):
        assert main(["budgets", action, str(path), "--output", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and err.startswith(f"otel-carbon budgets {action}: error:")
    assert output.read_text() == "previous rules\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "budgets.yaml", "rules.yml"]


def test_rules_output_is_written_whole(tmp_path):
    output = tmp_path / "rules.yml"
    assert main(["budgets", "rules", str(write(tmp_path, GOOD)), "--output", str(output)]) == 0
    groups = yaml.safe_load(output.read_text())["groups"]
    assert [g["name"] for g in groups] == ["otel-carbon-budget-search"]


@pytest.mark.parametrize("args", [
    ["--prometheus", "http://127.0.0.1:9"],  # nothing listens on the discard port
    ["--prometheus", "ftp://example"],
    [],
    ["--prometheus", "http://127.0.0.1:9", "--ledger", "sqlite:///x.db"],
])
def test_status_source_errors_are_one_line_exit_2(tmp_path, capsys, monkeypatch, args):
    monkeypatch.delenv("OTEL_CARBON_LEDGER", raising=False)
    assert main(["budgets", "status", str(write(tmp_path, GOOD)), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("otel-carbon budgets status: error:")


def test_status_of_a_missing_ledger_is_exit_2(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    assert main(["budgets", "status", str(write(tmp_path, GOOD)), "--ledger", url]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "absent.db").exists()


def test_forecast_is_run_rate_plus_trend():
    day = 86400.0
    assert forecast_at_end(100.0, 70.0, None, 10 * day) == pytest.approx(200.0)  # 10 g/day for 10 days
    # The weekly mean grew from 7 to 14 g per week: +1 g/day per week; in 3.5 + 5 days the rate is 2 + 8.5/7.
    rate = 14 / WEEK_S + (7 / WEEK_S / WEEK_S) * (WEEK_S / 2 + 5 * day)
    assert forecast_at_end(0.0, 14.0, 7.0, 10 * day) == pytest.approx(rate * 10 * day)
    assert forecast_at_end(5.0, 0.0, 70.0, 10 * day) == 5.0  # a falling trend never forecasts negative spend


def test_status_from_the_ledger_sums_exactly_and_finds_a_model_swap(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    sink = LedgerSink(url)
    acc = accountant((sink,))
    now_ns = time.time_ns()
    hour = 3600 * 10**9
    for k in range(1, 14 * 4):  # two weeks of gpt-4o-mini calls, 8 every 6 hours
        count_calls(acc, 8, end_time_ns=now_ns - k * 6 * hour - 2 * hour, features=("search",))
    count_calls(acc, 30, end_time_ns=now_ns - hour // 2, model="gpt-4o", features=("search",))  # the swap
    count_calls(acc, 30, end_time_ns=now_ns - hour // 2, features=("other",))  # another feature, unchanged
    assert sink.flush(20)
    sink.close()
    start = datetime.fromtimestamp(now_ns / 1e9, timezone.utc).replace(microsecond=0) - timedelta(days=3)
    budget = {"name": "search", "owner": "search-team", "selector": {"feature": "search"},
              "period": {"start": start.isoformat(), "every": "30d"}, "limits": {"carbon": "1 kg", "cost": 0.0001},
              "anomaly": {"metrics": ["carbon"], "factor": 1.5, "window": "1h", "min_requests": 20}}
    path = write(tmp_path, budget, {**budget, "name": "quiet", "selector": {"feature": "other"}, "anomaly": None})
    assert main(["budgets", "status", str(path), "--ledger", url, "--json"]) == 1  # cost is over
    report = json.loads(capsys.readouterr().out)
    search, quiet = report["budgets"]
    with open_ledger(url) as ledger:
        (row,) = ledger.totals(start=start, where={"feature": "search"})
    carbon, cost = search["limits"]
    assert math.isclose(carbon["spent"], row.carbon_g, rel_tol=1e-12) and carbon["unit"] == "g"
    assert carbon["forecast"] > carbon["spent"] and carbon["state"] in ("ok", "warning", "forecast_over")
    assert cost["state"] == "over" and search["state"] == "over"
    (anomaly,) = search["anomalies"]
    assert anomaly["metric"] == "carbon" and anomaly["per_request"] > 1.5 * anomaly["baseline"]
    assert anomaly["calls"] == 30
    assert quiet["anomalies"] == []
    monkeypatch.setenv("OTEL_CARBON_LEDGER", url)  # the embedded default when no source is given
    assert main(["budgets", "status", str(path)]) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["budget", "owner", "kind", "spent"] and "carbon" in table[3]
