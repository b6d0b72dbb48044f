"""OTLP export upstream (over a :mod:`.transport`), with an optional persistent retry queue for outages.

Without a queue a request is acknowledged only once the upstream took it; a
retryable failure raises :class:`UpstreamUnavailable` and the sender retries.
With a :class:`DiskQueue`, a request the upstream cannot take now (or any
request while older ones wait) is written to disk and acknowledged; one
background thread delivers the queue oldest-first, backing off while the
upstream is down.

Delivery guarantee: at-least-once.  Each accepted request reaches the
upstream, or is counted in the queue's ``dropped_*`` when the queue is full.
A request is sent again only after an attempt that certainly did not land
(the connection was refused, the upstream answered a retryable status) —
or after an *ambiguous* one: the upstream deadline passed after the request
was sent (gRPC ``DEADLINE_EXCEEDED``/``CANCELLED``, an HTTP read timeout), so
the first copy may still land.
Each ambiguous attempt is counted in ``ambiguous_requests`` /
``ambiguous_items`` (the duplicates it can cause, at most), whether the
re-send is ours (from the queue) or the sender's (it got ``UNAVAILABLE``).
A crash between the upstream's acknowledgement and the file's deletion
re-sends that one request after restart.  The upstream deadline is
``timeout_s``, shortened to the sender's own remaining deadline when it has
one, so nothing is sent upstream on behalf of a client that gave up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from otel_carbon._log import log_once
from otel_carbon.collector.disk_queue import DiskQueue
from otel_carbon.collector.errors import UpstreamRejected, UpstreamUnavailable
from otel_carbon.collector.payload import SIGNALS
from otel_carbon.collector.transport import Transport

_logger = logging.getLogger(__name__)
BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
#: Seconds kept from the sender's deadline for our own answer to reach it.
ANSWER_MARGIN_S = 0.05


class Forwarder:
    """Send ``traces`` / ``metrics`` / ``logs`` export requests (protobuf bytes) upstream over ``transport``,
    with a deadline of ``timeout_s`` seconds per attempt."""

    def __init__(
        self,
        transport: Transport,
        timeout_s: float,
        queue: DiskQueue | None = None,
        on_attempt: Callable[[float, str], None] | None = None,
    ) -> None:
        """``on_attempt(seconds, outcome)`` is told each upstream call's duration and its outcome
        (``ok``, ``unavailable``, ``ambiguous``, ``rejected``)."""
        self._timeout_s = timeout_s
        self._transport = transport
        self._on_attempt = on_attempt
        self.queue = queue
        self.delivered_from_queue = 0  #: requests the drain thread delivered
        self.refused_from_queue = 0  #: queued requests the upstream refused for good (logged)
        self.ambiguous_requests = 0  #: attempts that timed out after sending: each may become a duplicate
        self.ambiguous_items = 0  #: spans, metrics or log records in those attempts
        self.retried_from_queue = 0  #: queued sends that failed and wait for another try
        self.accepted_items: dict[str, int] = {}  #: per signal: delivered or queued, hence acknowledged
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drainer: threading.Thread | None = None
        if queue is not None:
            self._drainer = threading.Thread(target=self._drain, name="otel-carbon-retry-queue", daemon=True)
            self._drainer.start()

    def submit(self, signal: str, payload: bytes, items: int, sender_deadline_s: float | None = None) -> None:
        """Deliver or persist an encoded export request of ``items`` spans, metrics or log records; raises
        :class:`UpstreamUnavailable` / :class:`UpstreamRejected`.

        ``sender_deadline_s``: seconds the sender still waits for the answer (gRPC's
        ``time_remaining()``); the upstream attempt ends before it, so the sender hears the
        outcome (or, with a queue, gets its acknowledgement) instead of giving up and re-sending.
        """
        if self.queue is not None and len(self.queue) > 0:
            self.queue.put(signal, payload, items)
            self._accepted(signal, items)
            return
        timeout_s = self._timeout_s
        if sender_deadline_s is not None:
            timeout_s = min(timeout_s, max(sender_deadline_s - ANSWER_MARGIN_S, 0.001))
        try:
            self._send(signal, payload, timeout_s, items)
        except UpstreamUnavailable:
            if self.queue is None:
                raise
            self.queue.put(signal, payload, items)
        self._accepted(signal, items)

    def _accepted(self, signal: str, items: int) -> None:
        with self._lock:
            self.accepted_items[signal] = self.accepted_items.get(signal, 0) + items

    def _send(self, signal: str, payload: bytes, timeout_s: float, items: int) -> None:
        started = time.monotonic()
        outcome = "ok"
        try:
            self._transport.send(signal, payload, timeout_s)
        except UpstreamRejected:
            outcome = "rejected"
            raise
        except UpstreamUnavailable as error:
            outcome = "unavailable"
            if error.ambiguous:
                outcome = "ambiguous"
                with self._lock:
                    self.ambiguous_requests += 1
                    self.ambiguous_items += items
            raise
        finally:
            if self._on_attempt is not None:
                self._on_attempt(time.monotonic() - started, outcome)

    def _drain(self) -> None:
        assert self.queue is not None
        failures = 0
        while not self._stop.is_set():
            head = self.queue.oldest(timeout_s=0.2)
            if head is None:
                continue
            entry, payload = head
            try:
                SIGNALS[entry.signal][0].FromString(payload)  # a corrupt file is dropped, not sent
                self._send(entry.signal, payload, self._timeout_s, entry.items)
            except UpstreamUnavailable:
                self.retried_from_queue += 1
                self._stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1
                continue
            except Exception:  # refused for good, or a corrupt file: never block the queue on it
                log_once(_logger, "collector.queue", "otel-carbon collector dropped a queued request", exc_info=True)
                self.refused_from_queue += 1
            else:
                self.delivered_from_queue += 1
            failures = 0
            self.queue.remove(entry)

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the queue to empty; whether it did."""
        if self.queue is None:
            return True
        for _ in range(max(1, int(timeout_s / 0.05))):
            if len(self.queue) == 0:
                return True
            time.sleep(0.05)
        return len(self.queue) == 0

    def stop(self) -> None:
        """Stop the drain thread; what it has not delivered stays on disk for the next start."""
        self._stop.set()
        if self._drainer is not None:
            self._drainer.join(timeout=self._timeout_s + 1)
