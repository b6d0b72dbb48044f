"""How an intensity provider call fails: :class:`ProviderError` and its :class:`FailureKind`.

Raised by the shared HTTP client and by every provider (bad payloads, auth, budgets), and read
by the refresher, which backs off by kind and counts failures by ``reason``.  Messages name the
method, host, path and status — never headers, query strings or bodies, so keys cannot leak.
"""

from __future__ import annotations

import enum


class FailureKind(str, enum.Enum):
    """Why a provider call failed; drives back-off and the failure metric's ``reason``."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTH = "auth"  # 401 / 403: bad key or a plan that does not cover the request
    RATE_LIMITED = "rate_limited"  # 429
    SERVER = "server"  # 5xx
    CLIENT = "client"  # other 4xx
    PAYLOAD = "payload"  # not JSON, truncated, wrong shape, unexpected units, implausible value
    BUDGET = "budget"  # our own request budget is spent


class ProviderError(Exception):
    """A failed provider call. ``retry_after_s`` is the server's ``Retry-After``, if any."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after_s = retry_after_s
