"""The ledger: what the app thread pays per counted call, rows/s written by the background writer, and the
time of a report over a large ledger, in SQLite and PostgreSQL.

1. App thread: ``LedgerSink.submit`` per call (ns), against a no-op ``submit`` in the same run, and the
   whole ``account_call`` (enrichment + metrics) with and without the ledger sink.
2. Writer: calls submitted as fast as possible, then ``flush``: rows/s end to end (conversion + insert).
3. Report: a ledger seeded with ``--rows`` synthetic line items over a quarter (SQLite: batched inserts;
   PostgreSQL: COPY), then ``otel-carbon report --period Q --by feature`` (check + every query), timed.

    python bench/ledger.py [--calls 200000] [--rows 10000000] [--postgres URL | --start-postgres] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from ledger_support import PostgresServer, Recorder, accountant, pg_bin

from otel_carbon.accounting import CountedCall
from otel_carbon.ledger import LedgerSink, open_ledger
from otel_carbon.ledger import schema as sch
from otel_carbon.report import build_report, parse_period

QUARTER = parse_period("2026-Q3")


class NoSink:
    def submit(self, call: CountedCall) -> None:
        pass


def _calls(n: int) -> list[CountedCall]:
    calls: list[CountedCall] = []
    acc = accountant((Recorder(calls),))
    for i in range(n):
        acc.account_call({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                          "gen_ai.usage.input_tokens": 100 + i % 50, "gen_ai.usage.output_tokens": 40},
                         trace_id=0xBE7C, span_id=10_000_000 + i, end_time_ns=time.time_ns(),
                         baggage={"app.feature": ("a", "b", "c")[i % 3]})
    return calls


def app_thread(calls: list[CountedCall], url: str, rounds: int = 5) -> dict[str, float]:
    """ns per call on the app thread: a no-op submit vs LedgerSink.submit (best of ``rounds``)."""
    best = {"noop_submit_ns": float("inf"), "ledger_submit_ns": float("inf")}
    for _ in range(rounds):
        for key, sink in (("noop_submit_ns", NoSink()), ("ledger_submit_ns", LedgerSink(url, queue_size=len(calls)))):
            submit = sink.submit
            start = time.perf_counter_ns()
            for call in calls:
                submit(call)
            best[key] = min(best[key], (time.perf_counter_ns() - start) / len(calls))
            if isinstance(sink, LedgerSink):
                sink.close(60)
    best["added_ns"] = best["ledger_submit_ns"] - best["noop_submit_ns"]
    return best


def account_call_cost(n: int, url: str) -> dict[str, float]:
    """µs per ``account_call`` (enrichment, metrics, sinks) without and with the ledger sink."""
    out = {}
    for key, sinks in (("account_call_us", ()), ("account_call_with_ledger_us", (LedgerSink(url, queue_size=n),))):
        acc = accountant(sinks)
        attributes = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                      "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 40}
        base = int(time.time() * 1e6) << 20
        start = time.perf_counter_ns()
        for i in range(n):
            acc.account_call(attributes, trace_id=base, span_id=base + i + (len(sinks) << 40),
                             end_time_ns=time.time_ns(), baggage={"app.feature": "a"})
        out[key] = (time.perf_counter_ns() - start) / n / 1000
        for sink in sinks:
            sink.close(60)
    return out


def writer_rate(calls: list[CountedCall], url: str) -> float:
    """Rows/s: submit every call, then flush (conversion + inserts on the writer thread)."""
    sink = LedgerSink(url, queue_size=len(calls))
    start = time.perf_counter()
    for call in calls:
        sink.submit(call)
    assert sink.flush(600), sink.stats
    elapsed = time.perf_counter() - start
    sink.close()
    assert sink.stats.written == len(calls), sink.stats
    return len(calls) / elapsed


def _rows(n: int, offset: int = 0, total: int | None = None) -> Any:
    """Synthetic line items spread evenly over the quarter in time order, as writers append them (three
    features, two scopes, two zones)."""
    span = int((QUARTER.end - QUARTER.start).total_seconds() * 1e9)
    start = int(QUARTER.start.timestamp()) * 10**9
    step = span // max(1, total or n)
    for i in range(offset, offset + n):
        local = i % 5 == 0
        yield (f"{i >> 8:032x}", f"{i:016x}", start + i * step, "svc", "transformers" if local else "openai",
               "m-local" if local else "gpt-4o-mini", "chat", "FR" if local else "US",
               json.dumps({"app.feature": ("a", "b", "c")[i % 3]}), "local" if local else "hosted",
               "scope2" if local else "scope3.1", "comprehensive", "measured" if local else "estimated",
               None if local else "exact", "c", 120, 40, 30.0, 20.0, 60.0, 15.0, 8.0, 3.0, 4.0, 380.0, "static", 0,
               None, 0.0031, 0.0004, 0.0035, 0.002, 0.006, None if local else 1e-5, "request", 0.0035, "bench")


def seed_sqlite(url: str, rows: int) -> None:
    with open_ledger(url) as ledger:
        batch = 100_000
        for offset in range(0, rows, batch):
            ledger.insert(list(_rows(min(batch, rows - offset), offset, rows)))


def seed_postgres(url: str, rows: int) -> None:
    import psycopg

    with open_ledger(url):
        pass
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {sch.CALLS_TABLE} ({', '.join(sch.COLUMN_NAMES)}) FROM STDIN") as copy:
            for row in _rows(rows):
                copy.write_row(row)
        conn.commit()
        cur.execute(f"ANALYZE {sch.CALLS_TABLE}")
        conn.commit()


def report_seconds(url: str) -> dict[str, float]:
    start = time.perf_counter()
    with open_ledger(url, create=False) as ledger:
        ledger.check()
        checked = time.perf_counter()
        report = build_report(ledger, QUARTER, ("feature",))
    end = time.perf_counter()
    assert report.totals["calls"] > 0
    return {"check_s": checked - start, "report_s": end - checked, "total_s": end - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) for the PostgreSQL figures")
    parser.add_argument("--start-postgres", action="store_true", help="start a throwaway server (Debian postgresql)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="otel-carbon-bench-"))
    server = None
    pg_url = args.postgres
    if args.start_postgres and pg_bin() is not None:
        server = PostgresServer(pg_bin())  # type: ignore[arg-type]
    results: dict[str, Any] = {"calls": args.calls, "rows": args.rows, "cpus": os.cpu_count(),
                               "date": datetime.now(timezone.utc).date().isoformat()}
    try:
        calls = _calls(args.calls)
        results["app_thread"] = app_thread(calls, f"sqlite:///{work / 'app.db'}")
        results["account_call"] = account_call_cost(min(args.calls, 50_000), f"sqlite:///{work / 'acc.db'}")
        results["writer_rows_per_s"] = {"sqlite": writer_rate(calls, f"sqlite:///{work / 'writer.db'}")}
        sqlite_url = f"sqlite:///{work / 'big.db'}"
        start = time.perf_counter()
        seed_sqlite(sqlite_url, args.rows)
        results["seed_s"] = {"sqlite": time.perf_counter() - start}
        results["report"] = {"sqlite": report_seconds(sqlite_url)}
        results["sqlite_file_mb"] = Path(sqlite_url.removeprefix("sqlite:///")).stat().st_size / 2**20
        if server is not None:
            results["writer_rows_per_s"]["postgresql"] = writer_rate(calls, server.new_database())
            pg_url = server.new_database()
        if pg_url:
            start = time.perf_counter()
            seed_postgres(pg_url, args.rows)
            results["seed_s"]["postgresql"] = time.perf_counter() - start
            results["report"]["postgresql"] = report_seconds(pg_url)
    finally:
        if server is not None:
            server.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    app = results["app_thread"]
    print(f"app thread: LedgerSink.submit {app['ledger_submit_ns']:.0f} ns/call vs no-op {app['noop_submit_ns']:.0f} "
          f"ns (+{app['added_ns']:.0f} ns); account_call {results['account_call']['account_call_us']:.1f} µs, "
          f"with ledger {results['account_call']['account_call_with_ledger_us']:.1f} µs")
    for backend, rate in results["writer_rows_per_s"].items():
        print(f"writer {backend}: {rate:,.0f} rows/s")
    for backend, r in results["report"].items():
        print(f"report over {args.rows:,} rows, {backend}: {r['total_s']:.1f} s (check {r['check_s']:.1f} s, "
              f"queries {r['report_s']:.1f} s)")


if __name__ == "__main__":
    main()
