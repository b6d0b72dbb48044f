"""The ledger: line items written in the background by the real accountant, read back by the query API.

SQLite here; the same contracts against a real PostgreSQL server in ``test_ledger_postgres.py``.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ledger_support import DAY_NS, Recorder, accountant, assert_ledger_holds, count_calls

from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.ledger import (
    LedgerCorrupt,
    LedgerQueryError,
    LedgerSchemaTooNew,
    LedgerSink,
    LedgerUnavailable,
    LedgerURLError,
    open_ledger,
)
from otel_carbon.ledger import schema as sch
from otel_carbon.ledger.backends import SQLiteBackend
from otel_carbon.ledger.url import parse_ledger_url


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_every_counted_call_is_one_line_item_grouped_by_feature(url):
    sink = LedgerSink(url)
    carbons = count_calls(accountant((sink,)), 40)
    assert sink.flush(10)
    sink.close()
    with open_ledger(url) as ledger:
        total = ledger.totals()
        assert len(total) == 1 and total[0].calls == 40
        assert math.isclose(total[0].carbon_g, sum(carbons), rel_tol=1e-9)
        by_feature = {row.group["feature"]: row for row in ledger.totals(by=("feature",))}
        assert set(by_feature) == {"summarise", "search"}
        assert math.isclose(by_feature["summarise"].carbon_g, sum(carbons[0::2]), rel_tol=1e-9)
        assert by_feature["search"].calls == 20
        row = total[0]
        assert row.input_tokens == sum(100 + i for i in range(40))
        assert row.cost_usd > 0 and row.cost_unknown_calls == 0
        assert math.isclose(row.operational_g + row.embodied_g, row.carbon_g, rel_tol=1e-9)
        assert row.carbon_low_g <= row.carbon_g <= row.carbon_high_g
        # the stable names another command uses: full attribute keys and aliases
        assert ledger.totals(by=("app.feature",))[0].group["app.feature"] in {"summarise", "search"}
        assert ledger.totals(where={"provider": "openai", "feature": "search"})[0].calls == 20


def test_a_call_submitted_twice_is_counted_once(url):
    first, second = LedgerSink(url), LedgerSink(url)
    seen: list = []
    carbons = count_calls(accountant((first, Recorder(seen))), 10)
    first.close()
    for call in seen:  # a second process (a restarted gateway, a replica) counting the same spans again
        second.submit(call)
    second.close()
    assert second.stats.duplicates == 10 and second.stats.written == 0
    assert_ledger_holds(url, 10, carbons)


def test_empty_period_is_one_row_of_zeros_and_group_keys_are_checked(url):
    with open_ledger(url) as ledger:
        (row,) = ledger.totals(start=0, end=1)
        assert row.calls == 0 and row.carbon_g == 0.0 and row.group == {}
        with pytest.raises(LedgerQueryError):
            ledger.totals(by=("team'; DROP TABLE carbon_calls; --",))


def test_time_range_is_start_inclusive_end_exclusive(url):
    sink = LedgerSink(url)
    start = 1_700_000_000 * 10**9
    count_calls(accountant((sink,)), 3, end_time_ns=start)  # ends at start, start+1, start+2
    sink.close()
    with open_ledger(url) as ledger:
        assert ledger.totals(start=start, end=start + 2)[0].calls == 2
        assert ledger.totals(start=start + 1)[0].calls == 2


def test_scope_class_local_hosted_and_cloud_and_its_override(url, tmp_path):
    sink = LedgerSink(url)
    acc = accountant((sink,), zone="FR")
    count_calls(acc, 2, provider="openai", model="gpt-4o-mini")  # hosted API
    count_calls(acc, 3, provider="transformers", model="Qwen/Qwen2.5-0.5B-Instruct")  # in-process engine
    count_calls(acc, 1, provider="ollama", model="llama3.2", **{"server.address": "127.0.0.1"})
    sink.close()
    cloud_url = f"sqlite:///{tmp_path / 'cloud.db'}"
    cloud = LedgerSink(cloud_url, scopes={"cloud": "scope2"})
    count_calls(accountant((cloud,), resource={"service.name": "gpu", "cloud.provider": "aws"}, zone="FR"), 2,
                provider="vllm", model="meta-llama/Llama-3.1-8B-Instruct")
    cloud.close()
    with open_ledger(url) as ledger:
        scopes = {(r.group["supply"], r.group["scope"]): r.calls for r in ledger.totals(by=("supply", "scope"))}
        assert scopes == {("hosted", "scope3.1"): 2, ("local", "scope2"): 4}
    with open_ledger(cloud_url) as ledger:
        assert [(r.group["supply"], r.group["scope"]) for r in ledger.totals(by=("supply", "scope"))] == [
            ("cloud", "scope2")]


def test_older_schema_is_migrated_in_place(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {sch.META_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
    for statement in sch.MIGRATIONS[0].statements(SQLiteBackend.types):
        conn.execute(statement)
    conn.execute(f"INSERT INTO {sch.META_TABLE} VALUES ('schema_version', '1')")
    conn.execute(f"INSERT INTO {sch.CALLS_TABLE} (trace_id, span_id, end_time_ns, carbon_g, dimensions) "
                 "VALUES ('t', 's', 5, 1.5, '{}')")
    conn.commit()
    conn.close()
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert ledger.schema_version == sch.CURRENT_VERSION
        assert ledger.totals()[0].carbon_g == 1.5
        assert ledger.gaps() == []  # the table version 2 added


def test_a_ledger_from_a_newer_version_is_refused_and_the_app_keeps_running(url):
    with open_ledger(url):
        pass
    conn = sqlite3.connect(parse_ledger_url(url).target)
    conn.execute(f"UPDATE {sch.META_TABLE} SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerSchemaTooNew, match="schema version 99.*upgrade otel-carbon"):
        open_ledger(url)
    sink = LedgerSink(url)
    count_calls(accountant((sink,)), 5)  # never raises into the app
    assert sink.flush(10)
    sink.close()
    assert sink.stats.dropped == 5 and sink.stats.written == 0


def test_a_corrupt_file_is_a_clear_error_never_a_total(tmp_path, url):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(LedgerCorrupt, match="not a readable otel-carbon ledger"):
        open_ledger(f"sqlite:///{garbage}")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(LedgerCorrupt, match="not an otel-carbon ledger"):
        open_ledger(f"sqlite:///{other}")
    # a real ledger with damaged pages
    sink = LedgerSink(url)
    count_calls(accountant((sink,)), 2000)
    sink.close()
    path = Path(parse_ledger_url(url).target)
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, 7 * page):
        data[offset:offset + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerCorrupt), open_ledger(url) as ledger:
        ledger.check()
        ledger.totals()


def test_missing_file_without_create_is_unavailable(tmp_path):
    with pytest.raises(LedgerUnavailable, match="no ledger file"):
        open_ledger(f"sqlite:///{tmp_path / 'absent.db'}", create=False)


def test_a_locked_database_is_retried_and_nothing_is_lost(url):
    with open_ledger(url):
        pass
    holder = sqlite3.connect(parse_ledger_url(url).target, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    sink = LedgerSink(url, timeout_s=0.1, retry_max_s=0.2)
    carbons = count_calls(accountant((sink,)), 50)  # the app thread is never held by the lock
    assert not sink.flush(1.0)
    assert sink.stats.retries >= 1 and sink.stats.pending + sink.stats.queued == 50
    holder.execute("ROLLBACK")
    holder.close()
    assert sink.flush(20)
    sink.close()
    assert_ledger_holds(url, 50, carbons)


def test_a_full_queue_drops_calls_counts_them_and_the_ledger_says_what_is_missing(url):
    with open_ledger(url):
        pass
    holder = sqlite3.connect(parse_ledger_url(url).target, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    sink = LedgerSink(url, queue_size=10, batch_size=5, timeout_s=0.1, retry_max_s=0.2)
    count_calls(accountant((sink,)), 100)
    assert sink.stats.dropped >= 85  # the writer may have taken a batch off the queue before the rest came
    holder.execute("ROLLBACK")
    holder.close()
    assert sink.flush(20)
    sink.close()
    with open_ledger(url) as ledger:
        written = ledger.totals()[0].calls
        gaps = ledger.gaps()
        assert written + sum(g.dropped for g in gaps) == 100
        assert {g.reason for g in gaps} == {"queue_full"}


DISK_FULL_APP = r"""
import resource, signal, sys, time
sys.path.insert(0, sys.argv[2])
from ledger_support import accountant, count_calls
from otel_carbon.ledger import LedgerSink
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
sink = LedgerSink(sys.argv[1], retry_max_s=0.2)
acc = accountant((sink,))
for _ in range(20):
    count_calls(acc, 500)
sink.flush(3)
stats = sink.stats
print("app finished", stats.written, stats.retries, stats.pending + stats.queued, flush=True)
sink.close(1)
"""


def test_disk_full_keeps_the_app_running_and_the_ledger_consistent(url, tmp_path):
    with open_ledger(url):
        pass  # the schema fits; the rows do not
    size = Path(parse_ledger_url(url).target).stat().st_size + 64 * 1024
    result = subprocess.run([sys.executable, "-c", DISK_FULL_APP, url, str(Path(__file__).parent), str(size)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    written, retries, left = result.stdout.split()[-3:]
    assert int(retries) >= 1 and int(left) > 0  # the writer hit the limit and kept the rows for a retry
    with open_ledger(url) as ledger:  # readable, and what it holds is whole transactions
        ledger.check()
        assert ledger.totals()[0].calls == int(written)


def test_retention_deletes_old_calls_and_remembers_the_horizon(url):
    old = LedgerSink(url)
    count_calls(accountant((old,)), 4, end_time_ns=time.time_ns() - 100 * DAY_NS)
    count_calls(accountant((old,)), 3)
    old.close()
    sink = LedgerSink(url, retention_days=30)
    count_calls(accountant((sink,)), 1)
    sink.close()
    with open_ledger(url) as ledger:
        assert ledger.totals()[0].calls == 4
        assert ledger.retained_from_ns is not None
        assert time.time_ns() - 31 * DAY_NS < ledger.retained_from_ns < time.time_ns() - 29 * DAY_NS


def test_ledger_settings_and_urls():
    settings = CarbonSettings.from_env({"OTEL_CARBON_LEDGER": "sqlite:///x.db",
                                        "OTEL_CARBON_LEDGER_SCOPES": "cloud=scope2",
                                        "OTEL_CARBON_LEDGER_RETENTION_DAYS": "400"})
    assert settings.ledger == "sqlite:///x.db" and settings.ledger_scopes == {"cloud": "scope2"}
    assert "x.db" not in repr(settings)  # a URL may hold a password
    with pytest.raises(ConfigError, match="OTEL_CARBON_LEDGER"):
        CarbonSettings.from_env({"OTEL_CARBON_LEDGER": "mysql://db"})
    with pytest.raises(ConfigError, match="OTEL_CARBON_LEDGER_SCOPES"):
        CarbonSettings.from_env({"OTEL_CARBON_LEDGER_SCOPES": "hosted=scope1"})
    with pytest.raises(LedgerURLError):
        parse_ledger_url("sqlite://relative.db")
    assert parse_ledger_url("sqlite:////abs/l.db").target == "/abs/l.db"
    pg = parse_ledger_url("postgresql://user:s3cret@db:5432/carbon")
    assert "s3cret" not in pg.redacted() and "db:5432" in pg.redacted()


def test_configure_writes_the_calls_its_processor_counts(url):
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_carbon import configure

    exporter = InMemorySpanExporter()
    setup = configure(exporter=exporter, metric_readers=[InMemoryMetricReader()], set_global=False, ledger=url,
                      zone="FR", dimensions=("app.feature",))
    tracer = setup.tracer_provider.get_tracer("another-genai-instrumentation")
    for i in range(3):
        tracer.start_span(f"chat {i}", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-3-5-haiku-20241022", "gen_ai.usage.input_tokens": 300,
            "gen_ai.usage.output_tokens": 90, "app.feature": "triage"}).end()
    setup.shutdown()  # flushes the ledger writer
    spans = [s.attributes for s in exporter.get_finished_spans()]
    with open_ledger(url) as ledger:
        (row,) = ledger.totals(by=("feature", "provider"))
        assert row.group == {"feature": "triage", "provider": "anthropic"} and row.calls == 3
        assert math.isclose(row.carbon_g, sum(a["sci.carbon"] for a in spans), rel_tol=1e-9)


def test_gateway_and_report_refuse_a_bad_ledger_url(capsys):
    from otel_carbon.cli import main

    assert main(["collector", "run", "--upstream", "127.0.0.1:9", "--ledger", "mysql://db/carbon"]) == 2
    assert "--ledger" in capsys.readouterr().err
    assert main(["report", "--ledger", "postgresql://u:pw@/x", "--period", "2026"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pw" not in err


def test_writer_metrics_count_rows_and_drops(url):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    sink = LedgerSink(url, queue_size=5, batch_size=1000, flush_interval_s=60)
    sink.register_metrics(MeterProvider(metric_readers=[reader]))
    count_calls(accountant((sink,)), 8)  # the writer sleeps: 5 queue, 3 dropped
    sink.close()
    points = {m.name: m.data.data_points[0] for rm in reader.get_metrics_data().resource_metrics
              for sm in rm.scope_metrics for m in sm.metrics}
    assert points["sci.ledger.rows"].value == 5 and points["sci.ledger.dropped"].value == 3
    assert points["sci.ledger.dropped"].attributes == {"otel_carbon.recorded_by": "app"}
