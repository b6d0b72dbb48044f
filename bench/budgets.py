"""Backtest of the budget rules on a generated month of traffic: forecast error, anomaly detection delay,
false alerts per month.

Traffic (seeded, hourly): calls per hour ``120 × diurnal × weekly × trend`` with Gaussian noise of
Poisson size — working-hours peak, weekends at 45 %, and +40 % growth over the 45 days generated (14 days
of history, then a 31-day budget period); carbon per call 0.40 g on weekdays and 0.55 g at weekends
(another mix of work), ±5 % per hour; cost 0.002 USD per call.  A second copy plants a model swap on
day 20 of the period at 10:00 (carbon and cost per call × 1.8 from then on).

The generated rules (``otel-carbon budgets rules``, evaluated hourly) run in Prometheus's own rule
engine through ``promtool test rules``; the bench reads back the values with ``count_values`` (which
puts the exact value into a label of promtool's report) and the hours each alert fired.  Budgets on
the normal copy: ``under`` (limit 115 % of what the period really spends: any alert is false) and
``over`` (limit 90 %: the forecast alert should fire, early); on the swapped copy: ``swap`` (limit
300 %) for the anomaly alerts.  Baselines in the same run: the naive run-rate forecast (spend so far ×
period / elapsed) and the last-24-hours rate (what ``predict_linear`` over a day would give).

    python bench/budgets.py [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from budgets_support import counter

from otel_carbon import semconv as sc
from otel_carbon.budgets.forecast import WEEK_S, forecast_at_end
from otel_carbon.budgets.rules import render
from otel_carbon.budgets.spec import budgets_from_mapping

H = 3600
HISTORY_H = 14 * 24
PERIOD_H = 31 * 24
HOURS = HISTORY_H + PERIOD_H
SWAP_H = HISTORY_H + 20 * 24 + 10  # period day 20, 10:00
CHECKS_D = (7.0, 15.5, 23.0)  # forecast read at these days into the period
ALERTS = (sc.ALERT_BUDGET_ACTUAL, sc.ALERT_BUDGET_FORECAST, sc.ALERT_BUDGET_ANOMALY)


def traffic(seed: int, swap: bool) -> tuple[list[float], list[float], list[float]]:
    """Hourly (calls, carbon g, cost USD) for ``HOURS`` hours from t = 0 (a Thursday, 1970-01-01)."""
    draw = random.Random(seed)
    calls, carbon, cost = [], [], []
    for h in range(HOURS):
        hour, weekday = h % 24, (h // 24 + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
        weekend = weekday >= 5
        diurnal = 0.35 + 1.3 * max(0.0, math.sin(math.pi * (hour - 6) / 16)) if 6 <= hour <= 22 else 0.35
        mean = 120 * diurnal * (0.45 if weekend else 1.0) * (1 + 0.4 * h / HOURS)
        n = max(0.0, round(draw.gauss(mean, math.sqrt(mean))))
        factor = 1.8 if swap and h >= SWAP_H else 1.0
        calls.append(n)
        carbon.append(n * (0.55 if weekend else 0.40) * draw.gauss(1, 0.05) * factor)
        cost.append(n * 0.002 * factor)
    return calls, carbon, cost


def series(feature: str, calls: list[float], carbon: list[float], cost: list[float]) -> list[dict[str, str]]:
    labels = f'{{app_feature="{feature}",gen_ai_request_model="m"}}'
    return [
        {"series": sc.PROM_CARBON + labels, "values": counter(carbon)},
        {"series": sc.PROM_COST + labels, "values": counter(cost)},
        {"series": f"{sc.PROM_CARBON_PER_REQUEST}_sum{labels}", "values": counter(carbon)},
        {"series": f"{sc.PROM_REQUESTS}{labels}", "values": counter(calls)},
    ]


def budgets(clean_total: float, swap_total: float) -> dict[str, Any]:
    period = {"start": "1970-01-15", "every": "31d"}
    anomaly = {"metrics": ["carbon", "cost"], "factor": 1.5, "window": "1h", "min_requests": 20}
    one = {"owner": "bench", "period": period, "thresholds": {"actual": ["100%"], "forecast": ["100%"]}}
    return {"evaluation_interval": "1h", "budgets": [
        {**one, "name": "under", "selector": {"feature": "clean"}, "limits": {"carbon": 1.15 * clean_total},
         "anomaly": anomaly},
        {**one, "name": "over", "selector": {"feature": "clean"}, "limits": {"carbon": 0.9 * clean_total}},
        {**one, "name": "swap", "selector": {"feature": "swap"}, "limits": {"carbon": 3 * swap_total},
         "anomaly": anomaly},
    ]}


def run_promtool(spec: dict[str, Any], clean: list[dict], swapped: list[dict]) -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        sys.exit("promtool not found: install the Debian package 'prometheus'")
    hours = range(HISTORY_H + 1, HOURS + 1)
    value_checks = [{"expr": f'count_values("v", {name}{{budget="{b}"}})', "eval_time": f"{HISTORY_H + round(d * 24)}h",
                     "exp_samples": []} for d in CHECKS_D for b in ("under", "over") for name in
                    (sc.BUDGET_SPEND, sc.BUDGET_FORECAST)]
    alert_checks = [{"alertname": a, "eval_time": f"{h}h", "exp_alerts": []} for h in hours for a in ALERTS]
    tests = [
        {"interval": "1h", "input_series": clean, "promql_expr_test": value_checks, "alert_rule_test": alert_checks},
        {"interval": "1h", "input_series": swapped, "alert_rule_test": alert_checks},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yml").write_text(render(budgets_from_mapping(spec)))
        Path(tmp, "test.yml").write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1h",
                                                         "tests": tests}))
        done = subprocess.run([promtool, "test", "rules", "test.yml"], check=False, cwd=tmp, capture_output=True, text=True,
                              timeout=1800)
    return done.stdout + done.stderr


def parse(report: str) -> tuple[dict[tuple[str, str, float], float], list[tuple[int, int, dict[str, str]]]]:
    """Values {(record, budget, day): value} and firing alerts [(test index, hour, labels)] from promtool's report."""
    values: dict[tuple[str, str, float], float] = {}
    for record, budget, at, value in re.findall(
            r'expr: "count_values\(\\"v\\", ([\w:]+)\{budget=\\"(\w+)\\"\}\)", time: (\S+),\s+exp: nil\s+got: \{v="([^"]+)"',
            report):
        values[(record, budget, (hours_of(at) - HISTORY_H) / 24)] = float(value)
    alerts = []
    test, last_hour = 0, -1
    for block in re.split(r"\n    alertname: ", report)[1:]:
        head = re.match(r"(\w+), time: (\S+?),", block)
        if head is None:
            continue
        hour = hours_of(head.group(2))
        if hour < last_hour:  # promtool reports the second test group after the first
            test += 1
        last_hour = hour
        for labels in re.findall(r"Labels:\{([^}]*)\}", block):
            alerts.append((test, hour, dict(re.findall(r'(\w+)="([^"]*)"', labels))))
    return values, alerts


def hours_of(duration: str) -> int:
    """Hours in a Prometheus duration such as ``14d3h`` or ``2w1d``."""
    units = {"w": 168, "d": 24, "h": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([wdh])", duration))


def status_forecast(carbon: list[float], day: float) -> float:
    """The ``budgets status`` forecast (exact sums, as from the ledger) at ``day`` into the period."""
    now = HISTORY_H + round(day * 24)
    spent = sum(carbon[HISTORY_H:now])
    week, previous = sum(carbon[now - 168:now]), sum(carbon[now - 336:now - 168])
    assert WEEK_S == 168 * H
    return forecast_at_end(spent, week, previous, (HOURS - now) * H)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calls, carbon, cost = traffic(args.seed, swap=False)
    s_calls, s_carbon, s_cost = traffic(args.seed, swap=True)
    final = sum(carbon[HISTORY_H:])
    spec = budgets(final, sum(s_carbon[HISTORY_H:]))
    report = run_promtool(spec, series("clean", calls, carbon, cost), series("swap", s_calls, s_carbon, s_cost))
    values, alerts = parse(report)
    results: dict[str, Any] = {"period_total_g": round(final, 1), "forecast": [], "alerts": {}}
    for day in CHECKS_D:
        now = HISTORY_H + round(day * 24)
        spent = values[(sc.BUDGET_SPEND, "under", day)]
        rules = values[(sc.BUDGET_FORECAST, "under", day)]
        naive = spent * PERIOD_H / (now - HISTORY_H)
        last_day = spent + sum(carbon[now - 24:now]) / 24 * (HOURS - now)
        results["forecast"].append({
            "day": day, "spent_g": round(spent, 1), "spent_error_pct": round(100 * (spent / sum(carbon[HISTORY_H:now]) - 1), 2),
            "rules_error_pct": round(100 * (rules / final - 1), 2),
            "status_error_pct": round(100 * (status_forecast(carbon, day) / final - 1), 2),
            "naive_run_rate_error_pct": round(100 * (naive / final - 1), 2),
            "last_24h_rate_error_pct": round(100 * (last_day / final - 1), 2),
        })
    firing: dict[str, list[int]] = {}
    for test, hour, labels in alerts:
        key = f"{'normal' if test == 0 else 'swapped'}:{labels.get('budget')}:{labels['alertname']}:{labels.get('kind')}"
        firing.setdefault(key, []).append(hour)
    for key, hours in sorted(firing.items()):
        episodes = sum(1 for i, h in enumerate(hours) if i == 0 or h - hours[i - 1] > 1)
        results["alerts"][key] = {"episodes": episodes, "first_day": round((hours[0] - HISTORY_H) / 24, 2),
                                  "hours_firing": len(hours)}
    false_alerts = sum(v["episodes"] for k, v in results["alerts"].items()
                       if k.startswith("normal:under:") or (k.startswith("swapped:") and "Anomaly" not in k))
    false_alerts += sum(v["episodes"] for k, v in results["alerts"].items()
                        if k.startswith("normal:over:") and "Forecast" not in k and "Spend" not in k)
    results["false_alerts_per_month"] = false_alerts
    results["detection_delay_h"] = {
        kind: min((h for t, h, labels in alerts if t == 1 and labels["alertname"] == sc.ALERT_BUDGET_ANOMALY
                   and labels.get("kind") == kind and h >= SWAP_H), default=None)
        for kind in ("carbon", "cost")}
    results["detection_delay_h"] = {k: None if v is None else v - SWAP_H for k, v in results["detection_delay_h"].items()}
    results["anomaly_before_swap"] = sum(1 for t, h, labels in alerts if t == 1 and h < SWAP_H
                                         and labels["alertname"] == sc.ALERT_BUDGET_ANOMALY)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"period total (truth): {results['period_total_g']} g CO2e")
    for row in results["forecast"]:
        print(f"day {row['day']:>4}: spend-to-date error {row['spent_error_pct']:+.2f} %; forecast error — rules "
              f"{row['rules_error_pct']:+.2f} %, status {row['status_error_pct']:+.2f} %, naive run-rate "
              f"{row['naive_run_rate_error_pct']:+.2f} %, last-24h rate {row['last_24h_rate_error_pct']:+.2f} %")
    for key, value in results["alerts"].items():
        print(f"{key}: {value}")
    print(f"false alerts per month: {results['false_alerts_per_month']}; anomaly alerts before the swap: "
          f"{results['anomaly_before_swap']}; detection delay after the swap (h): {results['detection_delay_h']}")


if __name__ == "__main__":
    main()
