"""Ledger URLs: ``sqlite:///relative/or/absolute/path.db`` (``sqlite:////abs`` also works) or
``postgresql://user:password@host:port/dbname?options`` (``postgres://`` is accepted too)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from otel_carbon.config import env_var
from otel_carbon.ledger.errors import LedgerURLError

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class LedgerURL:
    """A parsed ledger URL: the backend and what it needs to connect (``target``: file path or libpq URL)."""

    backend: str
    target: str

    def redacted(self) -> str:
        """The URL without its password, for messages."""
        if self.backend == SQLITE:
            return f"sqlite:///{self.target}"
        return redact(self.target)


def configured_url() -> str | None:
    """The ledger URL the environment names (``OTEL_CARBON_LEDGER``), or ``None``: the default of the
    commands that read a ledger."""
    return os.environ.get(env_var("ledger"), "").strip() or None


def redact(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def parse_ledger_url(url: str) -> LedgerURL:
    """Parse ``url``; :class:`LedgerURLError` names the accepted forms."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if sep and scheme == SQLITE:
        path = rest.removeprefix("/")
        if not path or rest[:1] != "/":
            raise LedgerURLError(f"ledger URL {redact(text)!r}: expected sqlite:///PATH (three slashes)")
        return LedgerURL(SQLITE, path)
    if sep and scheme in ("postgresql", "postgres"):
        parts = urlsplit(text)
        if not parts.hostname and "host=" not in parts.query:
            raise LedgerURLError(f"ledger URL {redact(text)!r}: expected postgresql://USER@HOST:PORT/DBNAME")
        return LedgerURL(POSTGRESQL, urlunsplit(("postgresql", *parts[1:])))
    raise LedgerURLError(
        f"ledger URL {redact(text)!r}: expected sqlite:///PATH or postgresql://USER@HOST:PORT/DBNAME"
    )
