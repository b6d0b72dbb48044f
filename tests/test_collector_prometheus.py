"""Real Prometheus scrapes the gateway; every PromQL query of the shipped dashboard returns data."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from otlp_receiver import OTLPReceiver
from test_collector_gateway import GENAI, send

from otel_carbon.collector.gateway import Gateway
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext

DASHBOARD = Path(__file__).resolve().parent.parent / "collector" / "deploy" / "grafana" / "otel-carbon-dashboard.json"
PROMETHEUS = shutil.which("prometheus")

if PROMETHEUS is None:
    if os.environ.get("CI"):
        raise RuntimeError("prometheus is not installed: .ci/run must install the Debian package")
    pytest.skip("prometheus binary not installed (Debian package 'prometheus')", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def query(base: str, expr: str) -> list:
    response = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5)
    body = response.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


def dashboard_queries(budgets: bool = False) -> list[tuple[str, str]]:
    """(title, PromQL) of the dashboard's panels: the carbon panels, or (``budgets``) the budgets row's,
    which read the budget rules' series (filtered by the ``$budget`` variable; tests/test_budgets_e2e.py)."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", []) if ("$budget" in t["expr"]) == budgets]


@contextmanager
def prometheus_scraping(tmp_path: Path, target_port: int) -> Iterator[str]:
    """A real Prometheus scraping ``127.0.0.1:target_port`` every second; yields its base URL."""
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: otel-carbon\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(base), 30, "prometheus to be ready")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_every_dashboard_query_returns_data_from_a_real_prometheus(tmp_path):
    context = EnrichmentContext(settings=CarbonSettings(zone="FR", dimensions=("app.feature",)))
    with (OTLPReceiver() as upstream,
          Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, metrics_listen=("127.0.0.1", 0)) as gateway,
          prometheus_scraping(tmp_path, gateway.metrics.port) as base):
        send(gateway.port, {"chat gpt-4o-mini": {**GENAI, "app.feature": "search"}})
        wait_for(lambda: query(base, "sci_carbon_grams_total"), 20, "the first scrape with carbon")
        send(gateway.port, {"chat gpt-4o-mini": {**GENAI, "app.feature": "search"},
                            "chat gpt-4o": {**GENAI, "gen_ai.request.model": "gpt-4o", "app.feature": "summarise"}})
        wait_for(lambda: query(base, 'count_over_time(sci_carbon_grams_total{gen_ai_request_model="gpt-4o"}[1m]) >= 2'),
                 20, "two scrapes after the second batch")
        for title, expr in dashboard_queries():
            assert query(base, expr), f"no data for panel {title!r}: {expr}"


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
