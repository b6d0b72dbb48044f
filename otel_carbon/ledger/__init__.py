"""The carbon ledger: one durable line item per counted call (SQLite embedded, PostgreSQL shared).

* :func:`open_ledger` — open a ledger to query it (:meth:`Ledger.totals`, :meth:`Ledger.gaps`);
* :class:`LedgerSink` — the background writer the accountant hands counted calls to;
* errors: :class:`LedgerError` and its subclasses.

See ``docs/ledger.md``.  Core only: the PostgreSQL driver (``ledger`` extra) is imported when a
``postgresql://`` ledger is opened.
"""

from otel_carbon.ledger.errors import (
    LedgerCorrupt,
    LedgerError,
    LedgerQueryError,
    LedgerSchemaTooNew,
    LedgerUnavailable,
    LedgerURLError,
)
from otel_carbon.ledger.lineitem import SCOPE2, SCOPE3_CAT1
from otel_carbon.ledger.store import Gap, GroupTotals, Ledger, open_ledger
from otel_carbon.ledger.writer import LedgerSink, WriterStats, ledger_sink

__all__ = [
    "SCOPE2",
    "SCOPE3_CAT1",
    "Gap",
    "GroupTotals",
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerQueryError",
    "LedgerSchemaTooNew",
    "LedgerSink",
    "LedgerURLError",
    "LedgerUnavailable",
    "WriterStats",
    "ledger_sink",
    "open_ledger",
]
