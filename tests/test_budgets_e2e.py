"""End to end on real servers: the gateway's carbon metrics, scraped by a real Prometheus that evaluates
the generated budget rules, alert a real Alertmanager (Debian ``prometheus-alertmanager``) that delivers
to a loopback webhook with the owner's labels; ``budgets status --prometheus`` reads the same Prometheus.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml
from otlp_receiver import OTLPReceiver
from test_collector_gateway import GENAI
from test_collector_prometheus import _ready, dashboard_queries, free_port, query, wait_for
from test_metrics_quantiles import send

from otel_carbon import semconv as sc
from otel_carbon.budgets.alertmanager import routes
from otel_carbon.budgets.rules import render
from otel_carbon.budgets.spec import budgets_from_mapping
from otel_carbon.cli import main
from otel_carbon.collector.gateway import Gateway
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
if PROMETHEUS is None or ALERTMANAGER is None:
    if os.environ.get("CI"):
        raise RuntimeError("prometheus / prometheus-alertmanager missing: .ci/run must install the Debian packages")
    pytest.skip("needs the Debian packages 'prometheus' and 'prometheus-alertmanager'", allow_module_level=True)


class Webhook:
    """A loopback HTTP server that keeps every Alertmanager webhook payload it receives."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.payloads.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def alerts(self) -> list[dict]:
        return [alert for payload in self.payloads for alert in payload["alerts"]]


@contextmanager
def process(args: list[str], ready_url: str) -> Iterator[None]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _ready(ready_url) or proc.poll() is not None, 30, f"{args[0]} to be ready")
        assert proc.poll() is None, f"{args[0]} exited with {proc.returncode}"
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def budgets_file(start: datetime) -> dict:
    return {
        "evaluation_interval": "1s",
        "dashboard": "https://grafana.example.com/d/otel-carbon",
        "budgets": [{
            "name": "search", "owner": "search-team", "receiver": "search-pager", "labels": {"team": "search"},
            "selector": {"feature": "search"}, "period": {"start": start.isoformat(), "every": "1h"},
            "limits": {"carbon": "0.05 g"}, "thresholds": {"actual": ["100%"], "forecast": []},
            "anomaly": {"metrics": ["carbon", "cost"], "window": "5s", "min_requests": 1},
            "for": {"actual": "0s", "forecast": "0s", "anomaly": "0s"},
        }, {
            "name": "other", "owner": "other-team", "selector": {"feature": "elsewhere"},
            "period": {"start": start.isoformat(), "every": "1h"}, "limits": {"carbon": "1 kg"},
        }],
    }


def test_gateway_metrics_to_prometheus_rules_to_alertmanager_webhook_with_owner_labels(tmp_path, capsys):
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    spec = budgets_file(start)
    budgets_path = tmp_path / "budgets.yaml"
    budgets_path.write_text(yaml.safe_dump(spec))
    (tmp_path / "rules.yml").write_text(render(budgets_from_mapping(spec)))
    prom_port, am_port = free_port(), free_port()
    context = EnrichmentContext(settings=CarbonSettings(zone="FR", dimensions=("app.feature",)))
    with (Webhook() as hook,
          OTLPReceiver() as upstream,
          Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, metrics_listen=("127.0.0.1", 0)) as gateway):
        am_config = {
            "route": {"receiver": "nobody", "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h",
                      **routes(budgets_from_mapping(spec))["route"]},
            "receivers": [{"name": "nobody"},
                          {"name": "search-pager", "webhook_configs": [{"url": f"http://127.0.0.1:{hook.port}/"}]}],
        }
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [{"job_name": "otel-carbon",
                                "static_configs": [{"targets": [f"127.0.0.1:{gateway.metrics.port}"]}]}],
        }))
        am_base, prom_base = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
        with (process([ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
                       f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                       "--cluster.listen-address="], am_base),
              process([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                       f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                      prom_base)):
            call = {**GENAI, "app.feature": "search"}
            send(gateway.port, [call])  # the series exists before the calls that count
            wait_for(lambda: query(prom_base, sc.PROM_CARBON), 30, "the first scrape")
            send(gateway.port, [call] * 40)
            wait_for(lambda: query(prom_base, f'{sc.BUDGET_SPEND}{{budget="search"}} > 0.05'), 60,
                     "spend to date over the limit")
            delivered = wait_for(lambda: [a for a in hook.alerts() if a["labels"]["alertname"] == sc.ALERT_BUDGET_ACTUAL],
                                 60, "the webhook to receive the budget alert")
            labels, notes = delivered[0]["labels"], delivered[0]["annotations"]
            assert labels["budget"] == "search" and labels["budget_owner"] == "search-team"
            assert labels["team"] == "search" and labels["severity"] == "critical" and labels["kind"] == "carbon"
            assert notes["owner"] == "search-team" and notes["budget"] == "search"
            assert notes["dashboard"].endswith("var-budget=search") and "limit 0.05 g" in notes["description"]
            # Alertmanager's own API holds it, routed to the owner's receiver; nothing for the other budget.
            api = httpx.get(f"{am_base}/api/v2/alerts", timeout=5).json()
            ours = [a for a in api if a["labels"].get("budget") == "search"]
            assert ours and {r["name"] for a in ours for r in a["receivers"]} == {"search-pager"}
            assert not [a for a in hook.alerts() if a["labels"].get("budget") == "other"]

            # The dashboard's budgets row (the All value of $budget is .+) answers from the recorded series.
            wait_for(lambda: query(prom_base, f'{sc.BUDGET_PER_REQUEST_BASELINE}{{budget="search"}}'), 30,
                     "a per-request baseline")
            for title, expr in dashboard_queries(budgets=True):
                assert query(prom_base, expr.replace("$budget", ".+")), f"no data for panel {title!r}: {expr}"

            code = main(["budgets", "status", str(budgets_path), "--prometheus", prom_base, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    search, other = report["budgets"]
    assert search["state"] == "over" and search["limits"][0]["spent"] > 0.05
    assert other["state"] == "no_data" and other["limits"][0]["spent"] is None
