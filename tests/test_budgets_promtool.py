"""The generated budget rules pass ``promtool check rules`` and ``promtool test rules`` (Debian ``prometheus``).

Each alert is driven with synthetic series of the project's own metric names, evaluated hourly:
a threshold crossed, a forecast over while actual spend is under, an anomaly after a planted model
swap, and no anomaly over weeks with a weekly pattern.  The period bounds the rules compute in
PromQL are checked against the ones ``status`` computes in Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from budgets_support import counter

from otel_carbon import semconv as sc
from otel_carbon.budgets.rules import render
from otel_carbon.budgets.spec import budgets_from_mapping

PROMTOOL = shutil.which("promtool")
if PROMTOOL is None:
    if os.environ.get("CI"):
        raise RuntimeError("promtool is not installed: .ci/run must install the Debian package 'prometheus'")
    pytest.skip("promtool not installed (Debian package 'prometheus')", allow_module_level=True)

H, D = 3600, 86400
FOR = {"actual": "5m", "forecast": "1h", "anomaly": "30m"}
BUDGETS = {
    "dashboard": "https://grafana.example.com/d/otel-carbon",
    "evaluation_interval": "1h",
    "budgets": [
        {"name": "search", "owner": "search-team", "labels": {"team": "search"}, "selector": {"team": "search"},
         "period": {"start": "1970-01-21", "every": "30d"}, "limits": {"carbon": "60 kg"}, "for": FOR},
        {"name": "over", "owner": "search-team", "selector": {"team": "search"},
         "period": {"start": "1970-01-21", "every": "30d"}, "limits": {"carbon": "20 kg"}, "for": FOR},
        {"name": "chat", "owner": "chat-team", "selector": {"feature": "chat"}, "period": "month",
         "limits": {"carbon": "40 kg", "cost": 1000}, "anomaly": {"metrics": ["carbon"], "factor": 1.5, "window": "1h", "min_requests": 20},
         "for": FOR},
        {"name": "monthly", "owner": "x", "period": "month", "limits": {"energy": "1 kWh"}},
        {"name": "quarterly", "owner": "x", "period": "quarter", "limits": {"energy": "1 kWh"}},
    ],
}


def run_promtool_tests(tmp_path: Path, tests: list[dict[str, Any]], only: tuple[str, ...] = (),
                       interval: str = "1h") -> None:
    """``promtool check rules`` then ``promtool test rules`` on the rules of ``only`` budgets (default: all)."""
    rules = tmp_path / "rules.yml"
    chosen = {**BUDGETS, "budgets": [b for b in BUDGETS["budgets"] if not only or b["name"] in only]}
    rules.write_text(render(budgets_from_mapping(chosen)))
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules)], check=False, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    spec = tmp_path / "tests.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": interval, "tests": tests}))
    result = subprocess.run([PROMTOOL, "test", "rules", str(spec)], check=False, capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def annotations(alert: str, budget: str, value: str, **labels: str) -> dict[str, str]:
    """The generated annotations of one alert rule, with ``$value`` rendered as ``value``."""
    groups = yaml.safe_load(render(budgets_from_mapping(BUDGETS)))["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert
               and r["annotations"]["budget"] == budget and labels.items() <= r["labels"].items()]
    rendered = {}
    for key, text in rule["annotations"].items():
        rendered[key] = text.replace("{{ $value | humanize }}", value)
    return rendered


def test_generated_rules_check_and_threshold_and_forecast_alerts(tmp_path):
    # 100 g/h, steady, from 20 days before the custom period (starts day 20, 30 days long).
    carbon = counter([100.0] * (31 * 24))
    labels = {"budget_owner": "search-team", "kind": "carbon"}
    run_promtool_tests(tmp_path, [{
        "interval": "1h",
        "input_series": [{"series": f'{sc.PROM_CARBON}{{app_team="search",gen_ai_request_model="gpt-4o"}}',
                          "values": carbon}],
        "promql_expr_test": [
            {"expr": f'{sc.BUDGET_SPEND}{{budget="search"}}', "eval_time": "30d",
             "exp_samples": [{"labels": f'{sc.BUDGET_SPEND}{{budget="search",budget_owner="search-team",kind="carbon"}}',
                              "value": 24000}]},
            {"expr": f'round({sc.BUDGET_FORECAST}{{budget="search"}})', "eval_time": "30d",
             "exp_samples": [{"labels": '{budget="search",budget_owner="search-team",kind="carbon"}',
                              "value": 72000}]},
        ],
        "alert_rule_test": [
            # 24 kg spent of 60 kg (40 %), 72 kg forecast (120 %): forecast alert only.
            {"alertname": sc.ALERT_BUDGET_FORECAST, "eval_time": "30d", "exp_alerts": [{
                "exp_labels": {"budget": "search", **labels, "team": "search", "severity": "warning",
                               "threshold": "100%"},
                "exp_annotations": annotations(sc.ALERT_BUDGET_FORECAST, "search", "72k")}]},
            # 24 kg of 20 kg: both actual thresholds, and no forecast alert once actual spend is over.
            {"alertname": sc.ALERT_BUDGET_ACTUAL, "eval_time": "30d", "exp_alerts": [
                {"exp_labels": {"budget": "over", **labels, "severity": "warning", "threshold": "80%"},
                 "exp_annotations": annotations(sc.ALERT_BUDGET_ACTUAL, "over", "24k", threshold="80%")},
                {"exp_labels": {"budget": "over", **labels, "severity": "critical", "threshold": "100%"},
                 "exp_annotations": annotations(sc.ALERT_BUDGET_ACTUAL, "over", "24k", threshold="100%")},
            ]},
            # Day 21: 2.4 kg spent, under every actual threshold.
            {"alertname": sc.ALERT_BUDGET_ACTUAL, "eval_time": "21d", "exp_alerts": []},
        ],
    }], only=("search", "over"))


def test_anomaly_after_a_planted_model_swap(tmp_path):
    # 60 calls/h of 0.5 g for 14 days, then the same calls at 1.5 g (a larger model).
    hours = 16 * 24
    swap = 14 * 24
    grams = [30.0 if h < swap else 90.0 for h in range(hours)]
    selector = '{app_feature="chat",gen_ai_request_model="m"}'
    labels = {"budget": "chat", "budget_owner": "chat-team", "kind": "carbon", "severity": "warning"}
    run_promtool_tests(tmp_path, [{
        "interval": "1h",
        "input_series": [
            {"series": f"{sc.PROM_CARBON_PER_REQUEST}_count{selector}", "values": counter([60.0] * hours)},
            {"series": f"{sc.PROM_CARBON_PER_REQUEST}_sum{selector}", "values": counter(grams)},
        ],
        "alert_rule_test": [
            {"alertname": sc.ALERT_BUDGET_ANOMALY, "eval_time": "13d", "exp_alerts": []},
            {"alertname": sc.ALERT_BUDGET_ANOMALY, "eval_time": "14d1h", "exp_alerts": []},  # pending
            {"alertname": sc.ALERT_BUDGET_ANOMALY, "eval_time": "14d3h", "exp_alerts": [
                {"exp_labels": labels, "exp_annotations": annotations(sc.ALERT_BUDGET_ANOMALY, "chat", "1.5")}]},
        ],
    }], only=("chat",))


def test_no_alert_over_normal_weeks_with_a_weekly_pattern(tmp_path):
    # Weekdays: 100 calls/h by day, 20 by night, 0.5 g each; weekends: 30 calls/h of 0.85 g
    # (a larger model for batch work) — 1.7x the weekday figure, above the 1.5x factor.
    hours = 22 * 24
    calls, grams = [], []
    for h in range(hours):
        weekend = (h // 24) % 7 >= 5
        n = 30.0 if weekend else (100.0 if 8 <= h % 24 < 20 else 20.0)
        calls.append(n)
        grams.append(n * (0.85 if weekend else 0.5))
    selector = '{app_feature="chat"}'
    checks = [{"alertname": alert, "eval_time": f"{hour}h", "exp_alerts": []}
              for hour in range(7 * 24 + 2, 21 * 24, 3)
              for alert in (sc.ALERT_BUDGET_ANOMALY, sc.ALERT_BUDGET_ACTUAL, sc.ALERT_BUDGET_FORECAST)]
    run_promtool_tests(tmp_path, [{
        "interval": "1h",
        "input_series": [
            {"series": f"{sc.PROM_CARBON_PER_REQUEST}_count{selector}", "values": counter(calls)},
            {"series": f"{sc.PROM_CARBON_PER_REQUEST}_sum{selector}", "values": counter(grams)},
        ],
        "alert_rule_test": checks,
    }], only=("chat",))


@pytest.mark.parametrize("day", [1, 45, 100, 200, 300])
def test_period_bounds_in_promql_match_python(tmp_path, day):
    spec = budgets_from_mapping(BUDGETS)
    now = datetime.fromtimestamp(day * D, timezone.utc)
    samples = []
    for budget in ("monthly", "quarterly", "search"):
        (b,) = [x for x in spec.budgets if x.name == budget]
        start, end = b.period.bounds(now)
        for name, value in ((sc.BUDGET_PERIOD_START, start), (sc.BUDGET_PERIOD_END, end)):
            samples.append({"expr": f'{name}{{budget="{budget}"}}', "eval_time": f"{day}d",
                            "exp_samples": [{"labels": f'{name}{{budget="{budget}",budget_owner="{b.owner}"}}',
                                             "value": int(value.timestamp())}]})
    run_promtool_tests(tmp_path, [{"interval": "1d", "input_series": [], "promql_expr_test": samples}],
                       only=("monthly", "quarterly", "search"), interval="1d")


def test_the_documented_example_file_gives_rules_promtool_accepts(tmp_path):
    text = (Path(__file__).resolve().parent.parent / "docs" / "budgets.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = tmp_path / "rules.yml"
    rules.write_text(render(budgets_from_mapping(yaml.safe_load(example))))
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules)], check=False, capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
