"""``Ledger``: one open ledger database — written by the background writer, read by reports and budgets.

Opening checks what is there before anything is read or written: an empty database
gets the schema, an older ledger is migrated (:mod:`.schema`), a newer one is refused
(:class:`LedgerSchemaTooNew`), a file that is not a ledger or is damaged is refused
(:class:`LedgerCorrupt`).  Every driver error leaves as a :class:`LedgerError`.
Not thread-safe: one ``Ledger`` per thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.ledger import schema as sch
from otel_carbon.ledger.backends import SAFE_KEY, PostgresBackend, SQLiteBackend, backend_for
from otel_carbon.ledger.errors import LedgerCorrupt, LedgerError, LedgerQueryError, LedgerSchemaTooNew
from otel_carbon.ledger.url import parse_ledger_url

_DAY_NS = 86_400_000_000_000

#: Report/query key → ledger column (keys not here are configured dimensions, read from the JSON column).
COLUMN_KEYS: dict[str, str] = {
    "provider": "provider",
    sc.DIM_PROVIDER: "provider",
    "model": "model",
    sc.DIM_MODEL: "model",
    "zone": "zone",
    sc.DIM_ZONE: "zone",
    "service": "service",
    sc.SERVICE_NAME: "service",
    "scope": "scope",
    "supply": "supply",
    "method": "energy_method",
    sc.DIM_METHOD: "energy_method",
    "model_match": "model_match",
    "intensity_source": "intensity_source",
    "boundary": "boundary",
    "operation": "operation",
}
#: Short names of common configured dimensions.
DIMENSION_ALIASES: dict[str, str] = {"team": sc.DIM_APP_TEAM, "feature": sc.DIM_APP_FEATURE, "tier": sc.DIM_APP_USER_TIER}
#: Group key for calendar days (UTC); its group value is the ISO date.
DAY = "day"


@dataclass
class GroupTotals:
    """Sums over the calls of one group (J, g CO2e, USD; ``*_ns``: first and last call end time)."""

    group: dict[str, Any]
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    energy_j: float = 0.0
    energy_low_j: float = 0.0
    energy_high_j: float = 0.0
    energy_accelerator_j: float = 0.0
    energy_host_j: float = 0.0
    energy_idle_j: float = 0.0
    energy_overhead_j: float = 0.0
    operational_g: float = 0.0
    embodied_g: float = 0.0
    carbon_g: float = 0.0
    carbon_low_g: float = 0.0
    carbon_high_g: float = 0.0
    cost_usd: float = 0.0
    cost_unknown_calls: int = 0
    measured_calls: int = 0
    measured_carbon_g: float = 0.0
    fallback_calls: int = 0
    fallback_carbon_g: float = 0.0
    first_ns: int | None = None
    last_ns: int | None = None

    @property
    def known_cost_usd(self) -> float | None:
        """``cost_usd``, or ``None`` when no call of the group had a price: unknown, never a silent 0
        (with some calls priced, the sum is a lower bound and ``cost_unknown_calls`` says how many lack one)."""
        return None if self.calls and self.cost_unknown_calls == self.calls else self.cost_usd


#: GroupTotals fields after ``group``, in SELECT order, with their SQL aggregate.
_AGGREGATES: tuple[tuple[str, str], ...] = (
    ("calls", "COUNT(*)"),
    ("input_tokens", "SUM(input_tokens)"),
    ("output_tokens", "SUM(output_tokens)"),
    ("energy_j", "SUM(energy_j)"),
    ("energy_low_j", "SUM(energy_low_j)"),
    ("energy_high_j", "SUM(energy_high_j)"),
    ("energy_accelerator_j", "SUM(energy_accelerator_j)"),
    ("energy_host_j", "SUM(energy_host_j)"),
    ("energy_idle_j", "SUM(energy_idle_j)"),
    ("energy_overhead_j", "SUM(energy_overhead_j)"),
    ("operational_g", "SUM(operational_g)"),
    ("embodied_g", "SUM(embodied_g)"),
    ("carbon_g", "SUM(carbon_g)"),
    ("carbon_low_g", "SUM(carbon_low_g)"),
    ("carbon_high_g", "SUM(carbon_high_g)"),
    ("cost_usd", "SUM(cost_usd)"),
    ("cost_unknown_calls", "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END)"),
    ("measured_calls", "SUM(CASE WHEN energy_method = 'measured' THEN 1 ELSE 0 END)"),
    ("measured_carbon_g", "SUM(CASE WHEN energy_method = 'measured' THEN carbon_g ELSE 0 END)"),
    ("fallback_calls", "SUM(intensity_fallback)"),
    ("fallback_carbon_g", "SUM(CASE WHEN intensity_fallback = 1 THEN carbon_g ELSE 0 END)"),
    ("first_ns", "MIN(end_time_ns)"),
    ("last_ns", "MAX(end_time_ns)"),
)


@dataclass(frozen=True)
class Gap:
    """Calls the writer dropped (``reason``: queue_full | write_failed | shutdown), with their end times."""

    recorded_ns: int
    first_ns: int
    last_ns: int
    dropped: int
    reason: str
    recorded_by: str


def to_ns(moment: datetime | int | None) -> int | None:
    """``moment`` as ns since the epoch (naive datetimes are UTC; ints are taken as ns already)."""
    if moment is None or isinstance(moment, int):
        return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


class Ledger:
    """An open ledger.  Use :func:`open_ledger`; close it (or use ``with``)."""

    def __init__(self, backend: SQLiteBackend | PostgresBackend) -> None:
        self.backend = backend
        self.url = backend.url
        self._conn = backend.connect()
        try:
            with self._translated():
                backend.prepare(self._conn)
                self.schema_version = self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # --- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # closing a connection to a dead server: nothing left to release
            pass

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver exceptions leave as :class:`LedgerError` (after a rollback)."""
        try:
            yield
        except LedgerError:
            raise
        except Exception as exc:
            try:
                self._conn.rollback()
            except Exception:  # the connection itself is gone; the error below says why
                pass
            raise self.backend.error(exc) from exc

    # --- schema ----------------------------------------------------------------------------
    def _version(self, cur: Any) -> int:
        cur.execute(f"SELECT value FROM {sch.META_TABLE} WHERE key = {self.backend.placeholder}", (sch.VERSION_KEY,))
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def _has_meta(self, cur: Any) -> bool:
        if isinstance(self.backend, SQLiteBackend):
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {r[0] for r in cur.fetchall()}
            if tables and sch.META_TABLE not in tables:
                raise LedgerCorrupt(
                    f"{self.url.redacted()} is an SQLite database but not an otel-carbon ledger (no {sch.META_TABLE})"
                )
            return sch.META_TABLE in tables
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (sch.META_TABLE,))
        return bool(cur.fetchone()[0])

    def _migrate(self) -> int:
        cur = self._conn.cursor()
        version = self._version(cur) if self._has_meta(cur) else 0
        self._refuse_newer(version)
        if version == sch.CURRENT_VERSION:
            self._conn.commit()
            return version
        self._conn.commit()
        self.backend.lock_for_migration(cur)
        cur.execute(f"CREATE TABLE IF NOT EXISTS {sch.META_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
        version = self._version(cur)  # another writer may have migrated meanwhile
        self._refuse_newer(version)
        for migration in sch.pending(version):
            for statement in migration.statements(self.backend.types):
                cur.execute(statement)
            self._set_meta(cur, sch.VERSION_KEY, str(migration.version))
        self._conn.commit()
        return sch.CURRENT_VERSION

    def _refuse_newer(self, version: int) -> None:
        if version > sch.CURRENT_VERSION:
            raise LedgerSchemaTooNew(
                f"the ledger {self.url.redacted()} has schema version {version}, this otel-carbon knows up to "
                f"{sch.CURRENT_VERSION}: upgrade otel-carbon to read or write it"
            )

    def _set_meta(self, cur: Any, key: str, value: str) -> None:
        p = self.backend.placeholder
        cur.execute(
            f"INSERT INTO {sch.META_TABLE} (key, value) VALUES ({p}, {p}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def check(self) -> None:
        """Verify the database's pages (SQLite ``quick_check``); :class:`LedgerCorrupt` if damaged."""
        with self._translated():
            self.backend.check(self._conn)

    # --- writing ---------------------------------------------------------------------------
    def insert(self, rows: Sequence[Sequence[Any]]) -> int:
        """Insert line items (tuples in :data:`~.schema.COLUMN_NAMES` order) in one transaction.

        A row whose (trace_id, span_id) is already there is skipped.  Returns how many were new.
        """
        if not rows:
            return 0
        p = self.backend.placeholder
        sql = (
            f"INSERT INTO {sch.CALLS_TABLE} ({', '.join(sch.COLUMN_NAMES)}) "
            f"VALUES ({', '.join([p] * len(sch.COLUMN_NAMES))}) ON CONFLICT (trace_id, span_id) DO NOTHING"
        )
        with self._translated():
            cur = self._conn.cursor()
            cur.executemany(sql, rows)
            inserted = cur.rowcount
            self._conn.commit()
        return inserted if inserted is not None and inserted >= 0 else len(rows)

    def record_gap(self, gap: Gap) -> None:
        """Record that ``gap.dropped`` calls are missing (see :meth:`gaps`)."""
        p = self.backend.placeholder
        names = [name for name, _ in sch.GAP_COLUMNS]
        with self._translated():
            self._conn.cursor().execute(
                f"INSERT INTO {sch.GAPS_TABLE} ({', '.join(names)}) VALUES ({', '.join([p] * len(names))})",
                (gap.recorded_ns, gap.first_ns, gap.last_ns, gap.dropped, gap.reason, gap.recorded_by),
            )
            self._conn.commit()

    def apply_retention(self, before_ns: int) -> int:
        """Delete the calls that ended before ``before_ns``; remember the horizon. Returns rows deleted."""
        p = self.backend.placeholder
        with self._translated():
            cur = self._conn.cursor()
            cur.execute(f"DELETE FROM {sch.CALLS_TABLE} WHERE end_time_ns < {p}", (before_ns,))
            deleted = cur.rowcount or 0
            previous = self._meta(cur, sch.RETAINED_FROM_KEY)
            if previous is None or int(previous) < before_ns:
                self._set_meta(cur, sch.RETAINED_FROM_KEY, str(before_ns))
            self._conn.commit()
        return deleted

    def _meta(self, cur: Any, key: str) -> str | None:
        cur.execute(f"SELECT value FROM {sch.META_TABLE} WHERE key = {self.backend.placeholder}", (key,))
        row = cur.fetchone()
        return str(row[0]) if row else None

    # --- reading ---------------------------------------------------------------------------
    @property
    def retained_from_ns(self) -> int | None:
        """Calls that ended before this were deleted by retention (None: nothing deleted)."""
        with self._translated():
            value = self._meta(self._conn.cursor(), sch.RETAINED_FROM_KEY)
            self._conn.commit()
        return int(value) if value is not None else None

    def group_expression(self, key: str) -> str:
        """The SQL expression of a group/filter key (see :data:`COLUMN_KEYS`, :data:`DIMENSION_ALIASES`)."""
        if key == DAY:
            return f"(end_time_ns / {_DAY_NS})"  # integer division in both databases: days since the epoch
        if key in COLUMN_KEYS:
            return COLUMN_KEYS[key]
        dimension = DIMENSION_ALIASES.get(key, key)
        if not SAFE_KEY.match(dimension):
            raise LedgerQueryError(f"group key {key!r}: expected letters, digits, '.', '_' or '-'")
        return self.backend.json_text("dimensions", dimension)

    def totals(
        self,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
        by: Sequence[str] = (),
        where: Mapping[str, Any] | None = None,
    ) -> list[GroupTotals]:
        """Sums per group of the calls that ended in ``[start, end)``, largest carbon first.

        ``by=()`` gives exactly one row (zeros for an empty period).  ``where``: equality
        filters on the same keys as ``by``.
        """
        p = self.backend.placeholder
        groups = [self.group_expression(key) for key in by]
        conditions: list[str] = []
        params: list[Any] = []
        for bound, op in ((to_ns(start), ">="), (to_ns(end), "<")):
            if bound is not None:
                conditions.append(f"end_time_ns {op} {p}")
                params.append(bound)
        for key, value in (where or {}).items():
            conditions.append(f"{self.group_expression(key)} = {p}")
            params.append(value)
        select = [f"{expr} AS g{i}" for i, expr in enumerate(groups)] + [agg for _, agg in _AGGREGATES]
        sql = f"SELECT {', '.join(select)} FROM {sch.CALLS_TABLE}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if groups:
            sql += f" GROUP BY {', '.join(str(i + 1) for i in range(len(groups)))} ORDER BY SUM(carbon_g) DESC"
        with self._translated():
            cur = self._conn.cursor()
            cur.execute(sql, params)
            fetched = cur.fetchall()
            self._conn.commit()
        return [self._totals(row, by) for row in fetched] or [GroupTotals(group={})]

    @staticmethod
    def _totals(row: Sequence[Any], by: Sequence[str]) -> GroupTotals:
        group = {}
        for key, value in zip(by, row[: len(by)]):
            if key == DAY and value is not None:
                value = datetime.fromtimestamp(int(value) * _DAY_NS / 1e9, tz=timezone.utc).date().isoformat()
            group[key] = value
        totals = GroupTotals(group=group)
        for (name, _), value in zip(_AGGREGATES, row[len(by):]):
            if value is None:
                continue
            current = getattr(totals, name)
            setattr(totals, name, float(value) if isinstance(current, float) else int(value))
        return totals

    def gaps(self, start: datetime | int | None = None, end: datetime | int | None = None) -> list[Gap]:
        """Drops recorded by writers whose calls overlap ``[start, end)``, oldest first."""
        p = self.backend.placeholder
        lo, hi = to_ns(start), to_ns(end)
        conditions, params = [], []
        if lo is not None:
            conditions.append(f"last_ns >= {p}")
            params.append(lo)
        if hi is not None:
            conditions.append(f"first_ns < {p}")
            params.append(hi)
        names = ", ".join(name for name, _ in sch.GAP_COLUMNS)
        sql = f"SELECT {names} FROM {sch.GAPS_TABLE}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        with self._translated():
            cur = self._conn.cursor()
            cur.execute(sql + " ORDER BY first_ns", params)
            rows = cur.fetchall()
            self._conn.commit()
        return [Gap(int(r[0]), int(r[1]), int(r[2]), int(r[3]), str(r[4]), str(r[5])) for r in rows]


def open_ledger(url: str, *, create: bool = True, timeout_s: float = 5.0) -> Ledger:
    """Open (creating or migrating if needed) the ledger at ``url``: ``sqlite:///PATH`` or ``postgresql://…``.

    ``create=False`` refuses a missing SQLite file.  ``timeout_s``: connection and lock wait.
    Raises a :class:`~otel_carbon.ledger.errors.LedgerError` subclass (see ``docs/ledger.md``).
    """
    return Ledger(backend_for(parse_ledger_url(url), create=create, timeout_s=timeout_s))
