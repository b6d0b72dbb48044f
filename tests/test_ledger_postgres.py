"""The ledger in a real PostgreSQL server (Debian's ``postgresql``, started here on a loopback port)."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest
from ledger_support import PostgresServer, Recorder, accountant, assert_ledger_holds, count_calls, pg_bin
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver import OTLPReceiver

from otel_carbon.cli import main
from otel_carbon.ledger import LedgerSchemaTooNew, LedgerSink, LedgerUnavailable, open_ledger
from otel_carbon.ledger import schema as sch

pytest.importorskip("psycopg", reason="the PostgreSQL driver (otel-carbon[ledger]) is not installed")


@pytest.fixture(scope="module")
def server():
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt install postgresql)")
    pg = PostgresServer(bindir)
    yield pg
    pg.close()


@pytest.fixture
def url(server) -> str:
    return server.new_database()


def test_line_items_grouped_by_feature_and_counted_once(url, capsys):
    sink = LedgerSink(url)
    seen: list = []
    carbons = count_calls(accountant((sink, Recorder(seen))), 30)
    for call in seen:  # the same calls again: one row each
        sink.submit(call)
    assert sink.flush(20)
    sink.close()
    assert sink.stats.written == 30 and sink.stats.duplicates == 30
    with open_ledger(url) as ledger:
        total = ledger.totals()[0]
        assert total.calls == 30 and math.isclose(total.carbon_g, sum(carbons), rel_tol=1e-9)
        by_feature = {r.group["feature"]: r for r in ledger.totals(by=("feature", "scope"))}
        assert math.isclose(by_feature["summarise"].carbon_g, sum(carbons[0::2]), rel_tol=1e-9)
        assert by_feature["search"].group["scope"] == "scope3.1"
        days = ledger.totals(by=("day",))
        assert len(days) in (1, 2) and all(len(r.group["day"]) == 10 for r in days)
    year = days[0].group["day"][:4]
    assert main(["report", "--ledger", url, "--period", year, "--by", "feature", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["calls"] == 30 and math.isclose(doc["totals"]["carbon_g"], sum(carbons), rel_tol=1e-9)
    assert doc["scopes"]["scope3_cat1"]["calls"] == 30 and "postgres@" in doc["ledger"]


def test_an_unreachable_server_is_retried_until_it_is_back(server, url):
    with open_ledger(url):
        pass
    server.stop()
    try:
        with pytest.raises(LedgerUnavailable, match="cannot connect"):
            open_ledger(url, timeout_s=1)
        sink = LedgerSink(url, timeout_s=1, retry_max_s=0.2)
        carbons = count_calls(accountant((sink,)), 25)  # the app goes on
        assert not sink.flush(1.0)
        assert sink.stats.retries >= 1
    finally:
        server.start()
    assert sink.flush(30)
    sink.close()
    assert_ledger_holds(url, 25, carbons)


def test_newer_schema_is_refused(url):
    import psycopg

    with open_ledger(url):
        pass
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"UPDATE {sch.META_TABLE} SET value = '7' WHERE key = 'schema_version'")
    with pytest.raises(LedgerSchemaTooNew):
        open_ledger(url)


def test_password_never_in_errors(server):
    url = f"postgresql://postgres:hunter2@127.0.0.1:{server.port}/absent_db"
    with pytest.raises(LedgerUnavailable) as info:
        open_ledger(url, timeout_s=2)
    assert "hunter2" not in str(info.value)


def start_gateway(upstream_port: int, ledger_url: str, *flags: str) -> tuple[subprocess.Popen, int]:
    """``otel-carbon collector run --ledger URL`` as a process; its OTLP/gRPC port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_CARBON_DIMENSIONS"] = "app.feature"
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_carbon.cli", "collector", "run", "--listen", "127.0.0.1:0", "--http-port", "0",
         "--metrics-port", "0", "--upstream", f"127.0.0.1:{upstream_port}", "--ledger", ledger_url, *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    match = re.search(r"OTLP/gRPC on port (\d+)", line)
    assert match, line + process.stderr.read()
    return process, int(match[1])


def stop_gateway(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def test_through_the_gateway_a_duplicated_export_is_counted_once(url):
    # A service in any language: plain OpenTelemetry SDK spans with GenAI attributes, no otel-carbon.
    captured = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc-in-any-language"}))
    provider.add_span_processor(SimpleSpanProcessor(captured))
    tracer = provider.get_tracer("app")
    for i in range(20):
        tracer.start_span(f"chat {i}", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 500 + i, "gen_ai.usage.output_tokens": 100,
            "app.feature": "summarise" if i % 2 else "search"}).end()
    spans = captured.get_finished_spans()
    with OTLPReceiver() as upstream:
        gateway, port = start_gateway(upstream.port, url)
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)
        try:
            assert exporter.export(spans) == SpanExportResult.SUCCESS
            assert exporter.export(spans) == SpanExportResult.SUCCESS  # a retried export
        finally:
            exporter.shutdown()
            stop_gateway(gateway)
        restarted, port = start_gateway(upstream.port, url)  # a new process: only the ledger remembers
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)
        try:
            assert exporter.export(spans) == SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
            stop_gateway(restarted)
    assert len(upstream.spans) == 60  # every export was forwarded: the upstream saw each span three times
    first = upstream.spans[:20]  # the first export, counted by the gateway
    assert all(attrs.get("sci.counted") for _, attrs in first)
    counted = [attrs for _, attrs in first]
    with open_ledger(url) as ledger:
        total = ledger.totals()[0]
        assert total.calls == 20
        assert math.isclose(total.carbon_g, sum(a["sci.carbon"] for a in counted), rel_tol=1e-9)
        by_feature = {r.group["feature"]: r for r in ledger.totals(by=("feature", "service"))}
        assert {f: r.calls for f, r in by_feature.items()} == {"summarise": 10, "search": 10}
        assert by_feature["search"].group["service"] == "svc-in-any-language"
        expected = sum(a["sci.carbon"] for name, a in first if int(name.split()[1]) % 2 == 0)
        assert math.isclose(by_feature["search"].carbon_g, expected, rel_tol=1e-9)


def test_zero_code_app_through_the_gateway_into_postgresql(url, capsys):
    """The app counts its own calls (zero-code); the gateway, told to record spans counted upstream
    (``--count-enriched``), writes them to the shared ledger: the totals are the spans' ``sci.carbon``."""
    from test_ledger_zero_code import APP, FEATURE_OF_MODEL
    from test_zero_code import run_app

    from otel_carbon.cli.demo_server import LLMServer

    with OTLPReceiver() as upstream, LLMServer() as server:
        gateway, port = start_gateway(upstream.port, url, "--count-enriched")
        try:
            result = run_app(SimpleNamespace(port=port), server, APP, LLM_CALLS="20")
            assert result.returncode == 0, result.stderr
        finally:
            stop_gateway(gateway)
    counted = [a for n, a in upstream.spans if n.startswith("chat") and a.get("sci.counted")]
    assert len(counted) == 20
    with open_ledger(url) as ledger:
        assert ledger.totals()[0].calls == 20
        assert math.isclose(ledger.totals()[0].carbon_g, sum(a["sci.carbon"] for a in counted), rel_tol=1e-9)
        by_model = {r.group["model"]: r for r in ledger.totals(by=("model", "service"))}
        for model in FEATURE_OF_MODEL:  # the app's features map one to one onto its models
            spans = [a["sci.carbon"] for a in counted if a["gen_ai.request.model"] == model]
            assert math.isclose(by_model[model].carbon_g, sum(spans), rel_tol=1e-9)
            assert by_model[model].group["service"] == "sample-app" and by_model[model].calls == 10
