"""``LedgerSink``: the background writer — a :class:`~otel_carbon.accounting.CallSink` that never blocks.

The app thread's whole cost is :meth:`LedgerSink.submit`: a length check and a deque append
(no lock, no I/O, no conversion).  One daemon thread turns calls into rows and writes them in
batches, one transaction each, ``ON CONFLICT DO NOTHING`` on (trace_id, span_id).

Faults, never raised into the app:

* queue full (the database is slower than the app, or down for long): the call is dropped and
  counted; the drop is written to the ledger's ``carbon_gaps`` when the database takes writes again;
* database unavailable (locked beyond the timeout, server unreachable, disk full): the batch is
  kept and retried with backoff (0.1 s doubling to ``retry_max_s``) while new calls queue up;
* anything else (schema of a newer otel-carbon, a damaged file, a rejected batch): logged once,
  the calls are counted as dropped; the writer reopens the database and tries again later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otel_carbon import semconv as sc
from otel_carbon._log import log_once
from otel_carbon.accounting import CountedCall
from otel_carbon.config import CarbonSettings
from otel_carbon.ledger.backends import backend_for
from otel_carbon.ledger.errors import LedgerError, LedgerUnavailable
from otel_carbon.ledger.lineitem import LineItems
from otel_carbon.ledger.store import Gap, Ledger
from otel_carbon.ledger.url import parse_ledger_url

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

_logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 100_000
DEFAULT_BATCH_SIZE = 2_000
_RETENTION_EVERY_S = 3600.0


@dataclass(frozen=True)
class WriterStats:
    """What the writer did so far: rows ``written`` (new), ``duplicates`` skipped, calls ``dropped``,
    calls ``queued`` or ``pending`` (in a batch waiting for a retry), write ``retries``."""

    written: int
    duplicates: int
    dropped: int
    queued: int
    pending: int
    retries: int


class _Drops:
    """Dropped calls not yet recorded in the ledger, per reason (the drop path only: it takes a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, list[int]] = {}  # reason -> [count, first_ns, last_ns]
        self.total = 0

    def add(self, reason: str, count: int, first_ns: int, last_ns: int) -> None:
        with self._lock:
            self.total += count
            self._merge(reason, count, first_ns, last_ns)

    def take(self) -> dict[str, list[int]]:
        with self._lock:
            taken, self._open = self._open, {}
        return taken

    def give_back(self, taken: dict[str, list[int]]) -> None:
        with self._lock:
            for reason, (count, first, last) in taken.items():
                self._merge(reason, count, first, last)

    def _merge(self, reason: str, count: int, first_ns: int, last_ns: int) -> None:
        """Fold a drop into the open entry of ``reason`` (the caller holds the lock)."""
        entry = self._open.setdefault(reason, [0, first_ns, last_ns])
        entry[0] += count
        entry[1] = min(entry[1], first_ns)
        entry[2] = max(entry[2], last_ns)


class LedgerSink:
    """Writes every counted call to the ledger at ``url`` from a background thread.

    Raises :class:`~otel_carbon.ledger.errors.LedgerURLError` for a bad URL and
    :class:`~otel_carbon._extras.MissingExtraError` when a PostgreSQL URL lacks its driver
    (the ``ledger`` extra); nothing after construction raises.

    ``queue_size`` bounds the calls held in memory (beyond it they are dropped and counted);
    ``retention_days`` deletes calls older than that (at start, then hourly); ``scopes`` maps a
    supply (local, cloud, hosted) to its scope class; ``recorded_by`` marks the rows (app, gateway).
    """

    def __init__(
        self,
        url: str,
        *,
        scopes: Mapping[str, str] | None = None,
        local_endpoints: tuple[str, ...] = (),
        recorded_by: str = "app",
        queue_size: int = DEFAULT_QUEUE_SIZE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval_s: float = 1.0,
        retry_max_s: float = 30.0,
        retention_days: float | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = parse_ledger_url(url)  # a bad URL or a missing driver fails here, at start-up
        self._backend = backend_for(self.url, timeout_s=timeout_s)
        self._items = LineItems(scopes=scopes, local_endpoints=local_endpoints, recorded_by=recorded_by)
        self._recorded_by = recorded_by
        self._capacity = queue_size
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._retry_max = retry_max_s
        self._retention_ns = int(retention_days * 86_400e9) if retention_days else None
        self._queue: deque[CountedCall] = deque()
        self._pending: list[tuple[Any, ...]] = []
        self._drops = _Drops()
        self._written = self._duplicates = self._retries = 0
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._stopping = False
        self._busy = False  # the writer holds calls taken off the queue
        self._ledger: Ledger | None = None
        self._next_retention = 0.0
        self._thread = threading.Thread(target=self._run, name="otel-carbon-ledger", daemon=True)
        self._thread.start()

    # --- app thread ------------------------------------------------------------------------
    def submit(self, call: CountedCall) -> None:
        """Queue ``call`` for writing; never blocks, never raises (a full queue drops and counts it)."""
        queue = self._queue
        if len(queue) >= self._capacity or self._stopping:
            try:
                self._drops.add("queue_full" if not self._stopping else "shutdown", 1, call.end_time_ns,
                                call.end_time_ns)
                log_once(_logger, "ledger-queue-full", "otel-carbon ledger: the write queue is full; calls are "
                         "dropped and counted (written to the ledger's gaps once it takes writes again)")
            except Exception:  # never into the app
                pass
            return
        queue.append(call)
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    # --- control ---------------------------------------------------------------------------
    @property
    def stats(self) -> WriterStats:
        return WriterStats(self._written, self._duplicates, self._drops.total, len(self._queue),
                           len(self._pending), self._retries)

    def register_metrics(self, meter_provider: MeterProvider) -> None:
        """Export ``sci.ledger.rows`` (inserted) and ``sci.ledger.dropped`` (calls lost: alert on it) on
        ``meter_provider``, read from :attr:`stats` at each collection."""
        from opentelemetry.metrics import Observation

        meter = meter_provider.get_meter("otel_carbon.ledger", schema_url=sc.SCHEMA_URL)
        attributes = {sc.DIM_LEDGER_RECORDED_BY: self._recorded_by}

        def observe(field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
            return lambda options: [Observation(getattr(self.stats, field), attributes)]

        meter.create_observable_counter(sc.METRIC_LEDGER_ROWS, [observe("written")], unit="{row}",
                                        description="Line items the ledger writer inserted")
        meter.create_observable_counter(sc.METRIC_LEDGER_DROPPED, [observe("dropped")], unit="{call}",
                                        description="Counted calls the ledger writer dropped (queue full, "
                                                    "database refused, shutdown)")

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every call submitted so far is written (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._queue or self._pending or self._busy:
                self._wake.set()
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued, then stop, within about ``timeout_s``; calls left are counted as dropped."""
        if self._stopping:
            return
        deadline = time.monotonic() + timeout_s
        self.flush(timeout_s)
        self._stopping = True
        self._wake.set()
        self._thread.join(max(0.1, deadline - time.monotonic()))
        left = list(self._queue)
        self._queue.clear()
        pending, self._pending = self._pending, []
        if left or pending:
            ends = [c.end_time_ns for c in left] + [int(r[2]) for r in pending]
            self._drops.add("shutdown", len(ends), min(ends), max(ends))
            log_once(_logger, "ledger-shutdown", "otel-carbon ledger: %d call(s) could not be written before "
                     "shutdown", len(ends))

    # --- writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.0
        while not self._stopping:
            self._wake.wait(backoff or self._interval)
            self._wake.clear()
            if self._stopping:
                break
            self._busy = True
            try:
                backoff = self._cycle(backoff)
            except Exception:  # the writer must survive anything; say it once
                log_once(_logger, "ledger-writer", "otel-carbon ledger writer failed", exc_info=True)
                backoff = self._retry_max
            finally:
                self._busy = False
            with self._idle:
                self._idle.notify_all()
        self._close_ledger()

    def _cycle(self, backoff: float) -> float:
        """Write what is queued; return the wait before the next try (0: none needed)."""
        while self._queue or self._pending:
            if not self._pending:
                self._pending = [self._items.row(self._queue.popleft())
                                 for _ in range(min(self._batch_size, len(self._queue)))]
            try:
                ledger = self._open()
                inserted = ledger.insert(self._pending)
                self._written += inserted
                self._duplicates += len(self._pending) - inserted
                self._pending = []
                self._record_drops(ledger)
                self._retain(ledger)
            except LedgerUnavailable as exc:
                self._retries += 1
                self._close_ledger()
                log_once(_logger, "ledger-unavailable", "otel-carbon ledger unavailable, retrying: %s", exc)
                return min(max(backoff * 2, 0.1), self._retry_max)
            except LedgerError as exc:
                ends = [int(r[2]) for r in self._pending]
                self._drops.add("write_failed", len(ends), min(ends), max(ends))
                self._pending = []
                self._close_ledger()
                log_once(_logger, "ledger-failed", "otel-carbon ledger: calls dropped and counted: %s", exc)
                return self._retry_max
        if self._ledger is not None:
            self._record_drops(self._ledger)
        return 0.0

    def _open(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self._backend)
            self._retain(self._ledger)
        return self._ledger

    def _close_ledger(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def _record_drops(self, ledger: Ledger) -> None:
        taken = self._drops.take()
        try:
            for reason, (count, first, last) in list(taken.items()):
                ledger.record_gap(Gap(time.time_ns(), first, last, count, reason, self._recorded_by))
                del taken[reason]
        finally:
            self._drops.give_back(taken)

    def _retain(self, ledger: Ledger) -> None:
        if self._retention_ns is None or time.monotonic() < self._next_retention:
            return
        ledger.apply_retention(time.time_ns() - self._retention_ns)
        self._next_retention = time.monotonic() + _RETENTION_EVERY_S


def ledger_sink(settings: CarbonSettings, *, url: str | None = None, recorded_by: str = "app") -> LedgerSink | None:
    """The writer for ``url`` (default: ``settings.ledger``) with the settings' scopes, retention and local
    endpoints; ``None`` when no ledger is configured."""
    url = url or settings.ledger
    if not url:
        return None
    return LedgerSink(
        url,
        scopes=settings.ledger_scopes,
        local_endpoints=settings.local_endpoints,
        recorded_by=recorded_by,
        retention_days=settings.ledger_retention_days,
    )
