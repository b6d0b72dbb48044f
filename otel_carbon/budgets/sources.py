"""Where ``budgets status`` and the guard read spend: the Prometheus HTTP API or the ledger.

A source answers one question — the totals of a budget's calls in ``[start, end)``: carbon (g CO2e),
energy (J), cost (USD) and the number of calls — or ``None`` for a figure it has no data for (never
a silent 0).  Prometheus: ``sum(increase(METRIC{selector}[range] @ end))`` over the exported counters
(extrapolated at the edges, as ``increase`` is); the ledger: its exact sums (``docs/ledger.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from otel_carbon import semconv as sc
from otel_carbon.budgets.rules import METRICS, selector
from otel_carbon.budgets.spec import Budget
from otel_carbon.ledger.url import configured_url


class SourceError(RuntimeError):
    """The source cannot answer (unreachable, an error reply); one line, no secrets."""


@dataclass(frozen=True)
class Totals:
    """Sums over a budget's calls in a time range; None where the source has no data."""

    carbon: float | None
    energy: float | None
    cost: float | None
    calls: float | None

    def get(self, kind: str) -> float | None:
        """The total of ``kind`` (carbon | energy | cost | calls)."""
        value: float | None = getattr(self, kind)
        return value


class Source(Protocol):
    """Totals of a budget's calls; ``lower_bound`` says whether calls may be missing (dropped writes)."""

    name: str

    def totals(self, budget: Budget, start: datetime, end: datetime) -> Totals: ...

    def lower_bound(self, start: datetime, end: datetime) -> bool: ...


class PrometheusSource:
    """The Prometheus HTTP API at ``url`` (``/api/v1/query``), read with httpx."""

    name = "prometheus"

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise SourceError(f"--prometheus: expected an http(s) URL, got {url!r}")
        self._url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s)

    def totals(self, budget: Budget, start: datetime, end: datetime) -> Totals:
        seconds = int((end - start).total_seconds())
        if seconds < 1:
            return Totals(0.0, 0.0, 0.0, 0.0)
        at = f"[{seconds}s] @ {end.timestamp():.3f}"
        values = {
            kind: self._scalar(f"sum(increase({metric}{selector(budget)}{at}))")
            for kind, metric in {**METRICS, "calls": sc.PROM_REQUESTS}.items()
        }
        return Totals(**values)

    def lower_bound(self, start: datetime, end: datetime) -> bool:
        return False

    def _scalar(self, expr: str) -> float | None:
        import httpx

        try:
            response = self._client.get(f"{self._url}/api/v1/query", params={"query": expr})
        except httpx.HTTPError as exc:
            raise SourceError(f"Prometheus at {self._url} unreachable: {type(exc).__name__}") from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise SourceError(f"Prometheus at {self._url} answered HTTP {response.status_code}, not JSON") from None
        if body.get("status") != "success":
            raise SourceError(f"Prometheus at {self._url}: {body.get('errorType', 'error')}: {body.get('error', '')}")
        result = body["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return value if math.isfinite(value) else None

    def close(self) -> None:
        self._client.close()


class LedgerSource:
    """The ledger at ``url`` (``sqlite:///…`` or ``postgresql://…``), through its query API."""

    name = "ledger"

    def __init__(self, url: str) -> None:
        from otel_carbon.ledger import LedgerError, open_ledger

        try:
            self._ledger = open_ledger(url, create=False)
            self._ledger.check()  # a damaged file is an error, never a total
        except LedgerError as exc:
            raise SourceError(str(exc)) from None
        self._error = LedgerError

    def totals(self, budget: Budget, start: datetime, end: datetime) -> Totals:
        try:
            (row,) = self._ledger.totals(start=start, end=end, by=(), where=dict(budget.selector))
        except self._error as exc:
            raise SourceError(str(exc)) from None
        return Totals(row.carbon_g, row.energy_j, row.known_cost_usd, float(row.calls))

    def lower_bound(self, start: datetime, end: datetime) -> bool:
        try:
            return bool(self._ledger.gaps(start, end))
        except self._error as exc:
            raise SourceError(str(exc)) from None

    def close(self) -> None:
        self._ledger.close()


def open_source(prometheus: str | None = None, ledger: str | None = None) -> PrometheusSource | LedgerSource:
    """The source named by ``prometheus`` (URL) or ``ledger`` (URL) — neither: the ledger of
    ``OTEL_CARBON_LEDGER``, the embedded default; raises :class:`SourceError`."""
    if prometheus is not None and ledger is not None:
        raise SourceError("give one of --prometheus URL or --ledger URL, not both")
    if prometheus is None and ledger is None:
        ledger = configured_url()
        if ledger is None:
            raise SourceError("give --prometheus URL or --ledger URL (or set OTEL_CARBON_LEDGER)")
    return PrometheusSource(prometheus) if prometheus is not None else LedgerSource(ledger or "")
