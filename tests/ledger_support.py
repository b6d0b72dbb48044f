"""Test support for the ledger: a throwaway PostgreSQL server, and counted calls made by the real accountant."""

from __future__ import annotations

import glob
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider

from otel_carbon.accounting import CallSink, CountedCall
from otel_carbon.config import CarbonSettings
from otel_carbon.intensity import IntensityCache
from otel_carbon.ledger import open_ledger
from otel_carbon.processors.accountant import CarbonAccountant
from otel_carbon.processors.enrich import EnrichmentContext

DAY_NS = 86_400 * 10**9


def pg_bin() -> Path | None:
    """The directory of Debian's PostgreSQL server binaries (newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """``initdb`` into a temporary directory, ``pg_ctl`` on a loopback port (as the ``postgres`` user when root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="otel-carbon-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bindir / tool), *args], check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def new_database(self) -> str:
        """A fresh database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Recorder:
    """A sink that keeps the counted calls it is handed (to hand them to a ledger again)."""

    def __init__(self, calls: list[CountedCall]) -> None:
        self.calls = calls

    def submit(self, call: CountedCall) -> None:
        self.calls.append(call)


def accountant(sinks: tuple[CallSink, ...], dimensions: tuple[str, ...] = ("app.feature",),
               resource: dict[str, Any] | None = None, **settings: Any) -> CarbonAccountant:
    """The real accountant (static intensity, metrics on a private provider) handing calls to ``sinks``."""
    carbon = CarbonSettings.from_env({}, dimensions=dimensions, **settings)
    return CarbonAccountant(
        EnrichmentContext(settings=carbon, intensity=IntensityCache()),
        meter_provider=MeterProvider(),
        resource=resource if resource is not None else {"service.name": "svc"},
        sinks=sinks,
    )


def count_calls(acc: CarbonAccountant, n: int, *, start_id: int = 1, end_time_ns: int | None = None,
                provider: str = "openai", model: str = "gpt-4o-mini", trace_id: int | None = None,
                features: tuple[str, ...] = ("summarise", "search"), **extra: Any) -> list[float]:
    """Count ``n`` calls (span ids from ``start_id``, a fresh trace id unless given); return their ``sci.carbon``, g.

    The process remembers counted (trace, span) ids: a test that repeats ids passes the same ``trace_id``.
    """
    trace_id = trace_id if trace_id is not None else uuid.uuid4().int >> 1
    carbons = []
    end = end_time_ns if end_time_ns is not None else time.time_ns()
    for i in range(n):
        attributes = {
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 100 + i,
            "gen_ai.usage.output_tokens": 40 + i % 7,
            **extra,
        }
        out = acc.account_call(attributes, trace_id=trace_id, span_id=start_id + i, end_time_ns=end + i,
                               baggage={"app.feature": features[i % len(features)]})
        carbons.append(out["sci.carbon"])
    return carbons


def assert_ledger_holds(url: str, calls: int, carbons: Sequence[float]) -> None:
    """The ledger at ``url`` holds ``calls`` calls whose carbon is ``sum(carbons)`` (g)."""
    with open_ledger(url) as ledger:
        assert ledger.totals()[0].calls == calls
        assert math.isclose(ledger.totals()[0].carbon_g, sum(carbons), rel_tol=1e-9)
