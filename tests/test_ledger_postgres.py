"""The ledger in a real PostgreSQL server (Debian's ``postgresql``, started here on a loopback port)."""

from __future__ import annotations

import math

import pytest
from ledger_support import PostgresServer, Recorder, accountant, count_calls, pg_bin

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


def test_line_items_grouped_by_feature_and_counted_once(url):
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
    with open_ledger(url) as ledger:
        assert ledger.totals()[0].calls == 25
        assert math.isclose(ledger.totals()[0].carbon_g, sum(carbons), rel_tol=1e-9)


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
