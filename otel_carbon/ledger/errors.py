"""Errors of the ledger: each message is one line, names what to do, and never holds a password."""

from __future__ import annotations


class LedgerError(Exception):
    """The ledger cannot be used as asked."""


class LedgerURLError(LedgerError, ValueError):
    """The ledger URL is not ``sqlite:///PATH`` or ``postgresql://…``."""


class LedgerUnavailable(LedgerError):
    """The database cannot be reached now (unreachable server, locked file, disk full): worth retrying."""


class LedgerCorrupt(LedgerError):
    """The file or database is not an otel-carbon ledger, or is damaged: no total is read from it."""


class LedgerSchemaTooNew(LedgerError):
    """The ledger was written by a newer otel-carbon whose schema this version does not know."""


class LedgerQueryError(LedgerError, ValueError):
    """A query names a key that cannot be a ledger group or filter."""
