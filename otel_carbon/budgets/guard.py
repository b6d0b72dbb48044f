"""A budget guard the app can ask on its hot path: ``guard.over_budget("search")`` → bool, never blocking.

    guard = BudgetGuard("budgets.yaml", prometheus="http://prometheus:9090")   # or ledger="sqlite:///…"
    model = "gpt-4o-mini" if guard.over_budget("search-monthly", forecast=True) else "gpt-4o"

A daemon thread computes every budget's status (:mod:`otel_carbon.budgets.status`) every
``refresh_s`` seconds from a source it opens once and keeps (reopened after a failure);
``over_budget`` reads the last result under a lock.  Until the first result,
for a budget the file does not name, and while the source fails, the answer is the last known one
or ``False`` — the guard fails open, so an outage of Prometheus never degrades the app; each
failure is logged once.  ``close()`` stops the thread.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from otel_carbon._log import log_once
from otel_carbon.budgets.sources import LedgerSource, PrometheusSource, SourceError, open_source
from otel_carbon.budgets.spec import BudgetFile, load_budgets
from otel_carbon.budgets.status import BudgetStatus, file_status

_log = logging.getLogger(__name__)


class BudgetGuard:
    """Cached budget states, refreshed in the background from Prometheus or the ledger."""

    def __init__(self, budgets: BudgetFile | str | Path, *, prometheus: str | None = None,
                 ledger: str | None = None, refresh_s: float = 60.0) -> None:
        """Load ``budgets`` (raises :class:`~otel_carbon.budgets.spec.BudgetError` on a bad file) and start."""
        self._budgets = budgets if isinstance(budgets, BudgetFile) else load_budgets(budgets)
        self._prometheus, self._ledger = prometheus, ledger
        self._refresh_s = refresh_s
        self._source: PrometheusSource | LedgerSource | None = None  # used by the refresh thread only
        self._states: dict[str, BudgetStatus] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otel-carbon-budget-guard", daemon=True)
        self._thread.start()

    def over_budget(self, name: str | None = None, *, forecast: bool = False) -> bool:
        """Whether budget ``name`` (None: any budget) is over its limit — or, with ``forecast``, forecast
        to be.  Never blocks; ``False`` while nothing is known (fail open)."""
        bad = {"over", "forecast_over"} if forecast else {"over"}
        with self._lock:
            states = list(self._states.values()) if name is None else [s for s in (self._states.get(name),) if s]
        return any(s.state in bad for s in states)

    def status(self, name: str) -> BudgetStatus | None:
        """The last computed status of budget ``name``, or None before the first one."""
        with self._lock:
            return self._states.get(name)

    def close(self) -> None:
        """Stop the refresh thread (waits for a refresh in flight)."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._refresh()
            self._stop.wait(self._refresh_s)
        self._drop_source()

    def _refresh(self) -> None:
        try:
            if self._source is None:
                self._source = open_source(prometheus=self._prometheus, ledger=self._ledger)
            statuses = file_status(self._budgets, self._source)
        except SourceError as exc:
            self._drop_source()
            log_once(_log, f"budget-guard:{exc}", "budget guard: %s (keeping the last known states)", exc)
            return
        except Exception:  # never into the app: a guard that cannot refresh keeps its last answer
            self._drop_source()
            log_once(_log, "budget-guard:unexpected", "budget guard: refresh failed", exc_info=True)
            return
        with self._lock:
            self._states = {s.name: s for s in statuses}

    def _drop_source(self) -> None:
        """Close the source (the next refresh opens a fresh one: a restarted server, a replaced file)."""
        source, self._source = self._source, None
        if source is not None:
            source.close()  # never raises: Ledger.close swallows a dead connection's error
