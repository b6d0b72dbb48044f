"""The upstream's failures, and the one table that turns a failed relay into each receiver's answer.

A transport raises :class:`UpstreamUnavailable` (retry later) or
:class:`UpstreamRejected` (never accepted); the forwarder passes them on.
:func:`answer` maps those — and any other failure of the gateway while taking
a request, such as a retry queue that cannot write — to the OTLP answer for
both receivers, following the OTLP specification's retry rules:

===============================  ====================  ===============  ===================
failure                          gRPC status           HTTP status      counted as
===============================  ====================  ===============  ===================
upstream unavailable             ``UNAVAILABLE``       503 (retry)      ``upstream``
upstream throttling (429 / RE)   ``UNAVAILABLE``       429 (retry)      ``upstream``
upstream refused for good        ``INVALID_ARGUMENT``  400              ``upstream_rejected``
any other failure of ours        ``UNAVAILABLE``       503 (retry)      ``internal``
===============================  ====================  ===============  ===================

Retryable answers carry ``Retry-After`` (HTTP, seconds).  A throttled upstream
is ``UNAVAILABLE`` on gRPC, not ``RESOURCE_EXHAUSTED``: OTLP senders retry the
latter only when it carries ``RetryInfo`` details, which the gateway does not
attach.  Messages never contain payload bytes or header values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from otel_carbon._log import log_once

_logger = logging.getLogger(__name__)

#: Seconds a retryable answer asks the sender to wait (HTTP ``Retry-After``).
RETRY_AFTER_S = 5


class UpstreamUnavailable(Exception):
    """The upstream did not take the request; the sender should retry.  ``ambiguous``: it was sent and its
    answer not seen (a deadline passed), so it may have landed all the same.  ``throttled``: the upstream
    asked for less traffic (HTTP 429, gRPC ``RESOURCE_EXHAUSTED``)."""

    def __init__(self, reason: str, ambiguous: bool = False, throttled: bool = False) -> None:
        super().__init__(reason)
        self.ambiguous = ambiguous
        self.throttled = throttled


class UpstreamRejected(Exception):
    """The upstream refused the request for good (e.g. ``INVALID_ARGUMENT``); the sender must not retry."""


@dataclass(frozen=True)
class Answer:
    """How both receivers answer one failed request."""

    grpc_code: grpc.StatusCode
    http_status: int
    reason: str  #: the rejection counter's reason
    message: str  #: for the sender (no payload, no secrets)
    retry_after_s: int | None  #: seconds; ``None`` when the sender must not retry

    @property
    def http_headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after_s)} if self.retry_after_s is not None else {}


def answer(error: Exception) -> Answer:
    """The answer to a request whose relay raised ``error`` (see the module's table).  Call it in the
    ``except`` block: a failure of the gateway's own (not the upstream's) is logged once with its traceback."""
    if isinstance(error, UpstreamRejected):
        return Answer(grpc.StatusCode.INVALID_ARGUMENT, 400, "upstream_rejected",
                      f"upstream refused the request: {error}", None)
    if isinstance(error, UpstreamUnavailable):
        return Answer(grpc.StatusCode.UNAVAILABLE, 429 if error.throttled else 503, "upstream",
                      f"upstream unavailable: {error}", RETRY_AFTER_S)
    # e.g. the retry queue's disk is full: not accepted, so the sender must retry
    log_once(_logger, "collector.relay", "otel-carbon collector could not take a request", exc_info=True)
    return Answer(grpc.StatusCode.UNAVAILABLE, 503, "internal", "gateway could not take the request", RETRY_AFTER_S)
