"""The two databases a ledger lives in: SQLite (embedded default, stdlib) and PostgreSQL (psycopg 3).

A backend connects, names its SQL types and placeholder, reads a JSON key, and maps the
driver's exceptions to the ledger's errors (:mod:`.errors`): transient ones
(:class:`LedgerUnavailable`: locked, unreachable, disk full) are retried by the writer,
the others are not.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

from otel_carbon._extras import missing_extra
from otel_carbon.ledger.errors import LedgerCorrupt, LedgerError, LedgerUnavailable
from otel_carbon.ledger.url import POSTGRESQL, LedgerURL, redact

#: Dimension keys usable in SQL (embedded as JSON path literals, so restricted to these characters).
SAFE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


class SQLiteBackend:
    """A ledger file.  ``timeout_s``: how long a write waits for a lock held by another process."""

    name = "sqlite"
    placeholder = "?"
    types: ClassVar[dict[str, str]] = {"text": "TEXT", "int": "INTEGER", "real": "REAL", "json": "TEXT"}

    def __init__(self, url: LedgerURL, *, create: bool = True, timeout_s: float = 5.0) -> None:
        self.url = url
        self.path = Path(url.target)
        self.create = create
        self.timeout_s = timeout_s

    def connect(self) -> sqlite3.Connection:
        if not self.create and not self.path.is_file():
            raise LedgerUnavailable(f"no ledger file at {self.path}")
        try:
            if self.create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=self.timeout_s, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerUnavailable(f"cannot open the ledger file {self.path}: {exc}") from exc
        return conn

    def prepare(self, conn: Any) -> None:
        """Per-connection settings: WAL, so that a report reads while the app writes."""
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")

    def lock_for_migration(self, cursor: Any) -> None:
        cursor.execute("BEGIN IMMEDIATE")

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.\"{key}\"')"

    def check(self, conn: Any) -> None:
        """``PRAGMA quick_check``: a damaged page raises :class:`LedgerCorrupt` before any total is read."""
        rows = conn.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise LedgerCorrupt(f"the ledger file {self.path} is damaged ({detail}); restore it from a backup")

    def error(self, exc: BaseException) -> LedgerError:
        message = str(exc)
        lowered = message.lower()
        if isinstance(exc, sqlite3.DatabaseError) and (
            "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered
        ):
            return LedgerCorrupt(f"the ledger file {self.path} is not a readable otel-carbon ledger ({message})")
        if isinstance(exc, (sqlite3.OperationalError, OSError)):
            return LedgerUnavailable(f"ledger file {self.path}: {message}")
        return LedgerError(f"ledger file {self.path}: {message}")


class PostgresBackend:
    """A shared ledger in PostgreSQL, through psycopg 3 (the ``ledger`` extra)."""

    name = POSTGRESQL
    placeholder = "%s"
    types: ClassVar[dict[str, str]] = {"text": "TEXT", "int": "BIGINT", "real": "DOUBLE PRECISION", "json": "JSONB"}

    def __init__(self, url: LedgerURL, *, create: bool = True, timeout_s: float = 5.0) -> None:
        try:
            import psycopg
        except ModuleNotFoundError as exc:
            raise missing_extra("ledger", exc, "a PostgreSQL ledger") from exc
        self._psycopg = psycopg
        self.url = url
        self.timeout_s = timeout_s

    def connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url.target, connect_timeout=max(1, int(self.timeout_s)))
        except self._psycopg.Error as exc:
            raise LedgerUnavailable(f"cannot connect to the ledger {self.url.redacted()}: {_first_line(exc)}") from exc

    def prepare(self, conn: Any) -> None:
        conn.execute(f"SET lock_timeout = {int(self.timeout_s * 1000)}")
        conn.commit()

    def lock_for_migration(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(7426)")  # one migrating writer at a time

    def json_text(self, column: str, key: str) -> str:
        return f"({column} ->> '{key}')"

    def check(self, conn: Any) -> None:
        """PostgreSQL checks its own pages (checksums, WAL); nothing to do here."""

    def error(self, exc: BaseException) -> LedgerError:
        psycopg = self._psycopg
        text = redact(_first_line(exc))
        if isinstance(exc, (psycopg.OperationalError, OSError)):  # lost connection, lock timeout, disk full
            return LedgerUnavailable(f"ledger {self.url.redacted()}: {text}")
        return LedgerError(f"ledger {self.url.redacted()}: {text}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def backend_for(url: LedgerURL, *, create: bool = True, timeout_s: float = 5.0) -> SQLiteBackend | PostgresBackend:
    """The backend that serves ``url``."""
    if url.backend == POSTGRESQL:
        return PostgresBackend(url, create=create, timeout_s=timeout_s)
    return SQLiteBackend(url, create=create, timeout_s=timeout_s)
