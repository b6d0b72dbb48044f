"""Accounting: each model call is *counted* once, at the end of the call, whatever the sampler.

Counting (carbon metrics, ledger rows) is not span export.  Our instrumentations
hand every finished call to the process's :class:`Accountant` — recorded or not,
sampled or not — and write what it returns (the ``sci.*`` attributes, with
``sci.counted=true``) on their span.  Spans of other GenAI instrumentations are
counted by the span processor when they reach it (see ``docs/methodology.md``).

This module is core: it names the contract and holds the process's accountant
(installed by the wiring — ``configure()``, the zero-code configurator or a
``CarbonSpanProcessor`` — never imported from the subpackages).  It also holds
the process-wide record of the spans already counted, so that two processors
in one provider, or one span exported twice, count once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import context as otel_context

#: Set in the context while a call traced (and counted) by our instrumentation runs: a span that starts
#: under it — another library's tracing of the same call — is a duplicate of that call.
INSIDE_COUNTED_CALL = otel_context.create_key("otel_carbon.inside_counted_call")

#: How many counted span ids are remembered for idempotence (oldest forgotten first).
DEFAULT_MEMORY = 100_000


@dataclass(frozen=True)
class CountedCall:
    """One counted model call, as the metrics and the ledger see it.

    ``attributes`` are the call's GenAI attributes, ``carbon`` the ``sci.*``
    (and ``gen_ai.usage.cost``) attributes computed for it — J, g CO2e,
    gCO2e/kWh, USD — and ``dimensions`` its metric dimensions (provider, model,
    zone, method, and the configured keys).  Ids are the span's (0 when unknown).
    """

    trace_id: int
    span_id: int
    end_time_ns: int
    attributes: Mapping[str, Any]
    carbon: Mapping[str, Any]
    dimensions: Mapping[str, Any]
    resource: Mapping[str, Any]


class CallSink(Protocol):
    """Receives each counted call (a ledger).  Must not block and must not raise."""

    def submit(self, call: CountedCall) -> None: ...


class Accountant(Protocol):
    """Computes, counts and returns the carbon attributes of one finished call."""

    def account_call(
        self,
        attributes: Mapping[str, Any],
        *,
        trace_id: int,
        span_id: int,
        end_time_ns: int,
        baggage: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """Count the call whose span carries ``attributes``; return the attributes to add to it.

        Never raises; returns ``{}`` when the call cannot be counted (and says why in the
        returned ``sci.carbon.status`` where it can).
        """
        ...

    @property
    def dimension_keys(self) -> tuple[str, ...]:
        """Configured dimension keys: the instrumentation captures these from baggage at call start."""
        ...


_installed: list[Accountant] = []
_installed_lock = threading.Lock()


def install(accountant: Accountant) -> None:
    """Make ``accountant`` the one our instrumentations report to (the latest installed wins)."""
    with _installed_lock:
        if accountant in _installed:
            _installed.remove(accountant)
        _installed.append(accountant)


def uninstall(accountant: Accountant) -> None:
    """Stop reporting to ``accountant``; the one installed before it, if any, takes over."""
    with _installed_lock:
        if accountant in _installed:
            _installed.remove(accountant)


def current() -> Accountant | None:
    """The accountant our instrumentations report to, or ``None`` (then calls are not counted)."""
    return _installed[-1] if _installed else None


class CountedSpans:
    """A bounded, thread-safe memory of the spans already counted (by trace and span id).

    :meth:`claim` is true once per span: the first caller counts it, later ones
    (a second processor, a retried export) do not.  Beyond ``capacity`` the
    oldest ids are forgotten, so the guarantee covers the most recent spans.
    """

    def __init__(self, capacity: int = DEFAULT_MEMORY) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, trace_id: int, span_id: int) -> bool:
        """True the first time this span is claimed; ids of 0 (unknown) are always claimable."""
        if not span_id:
            return True
        key = (trace_id, span_id)
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True


#: The process's memory of counted spans, shared by every processor in the process.
COUNTED_SPANS = CountedSpans()
