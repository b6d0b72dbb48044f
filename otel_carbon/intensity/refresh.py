"""Background refresh of one provider's zones into the cache.

One daemon thread per provider.  Each zone is due again after the TTL (the
provider's data granularity unless configured) spread by ±``jitter`` so that a
fleet does not poll in lock-step.  A failure backs off exponentially from
``backoff_base_s`` to ``backoff_max_s`` (with jitter); a ``Retry-After``
is honoured and, on 429, holds the whole provider (limits are per account);
401/403 back off to the maximum at once.  A token-bucket request budget caps
calls per hour.  A reading whose timestamp is too old at the source (measured
on the server's clock, from the HTTP ``Date`` header, so local clock skew does
not matter) is stored as already stale; one from the future is rejected.

Nothing here raises out of the thread: every failure is counted, logged once
per (provider, reason) without secrets, and the cache keeps answering.
For tests, ``run_once`` does one pass with the injected clock and returns the
seconds until the next pass.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from otel_carbon._log import log_once
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.errors import FailureKind, ProviderError
from otel_carbon.intensity.health import IntensityHealth
from otel_carbon.intensity.providers.base import Fetched, Location, Provider

_logger = logging.getLogger(__name__)

#: The loop wakes at least this often to run ``cache.maintain`` and pick up new zones.
MAX_SLEEP_S = 30.0
MIN_SLEEP_S = 0.05
#: A forecast is re-fetched at most this often per zone.
FORECAST_TTL_S = 3600.0
#: A reading may be dated this far ahead of the server's "now" (interval starts, rounding).
FUTURE_TOLERANCE_S = 300.0


class RequestBudget:
    """Token bucket: ``per_hour`` calls an hour, bursts of at most ``burst``."""

    def __init__(self, per_hour: float, now: float, burst: int = 10) -> None:
        self._rate = per_hour / 3600.0
        self._capacity = float(max(1, min(burst, int(per_hour))))
        self._tokens = self._capacity
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = max(self._stamp, now)

    def take(self, now: float, cost: float = 1.0) -> bool:
        self._refill(now)
        if self._tokens + 1e-9 >= cost:
            self._tokens -= cost
            return True
        return False

    def seconds_until(self, now: float, cost: float = 1.0) -> float:
        self._refill(now)
        return max(0.0, (cost - self._tokens) / self._rate) if self._rate > 0 else MAX_SLEEP_S


@dataclass
class _ZoneState:
    location: Location
    due_at: float
    failures: int = 0
    forecast_due_at: float = 0.0


class Refresher:
    """Keeps the cache fresh for every watched zone ``provider`` serves."""

    def __init__(
        self,
        provider: Provider,
        cache: IntensityCache,
        *,
        ttl_s: float | None = None,
        budget_per_hour: float | None = None,
        forecast: bool = True,
        jitter: float = 0.1,
        backoff_base_s: float = 30.0,
        backoff_max_s: float = 3600.0,
        max_source_age_s: float | None = None,
        health: IntensityHealth | None = None,
        on_update: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self._cache = cache
        self._ttl_s = ttl_s if ttl_s is not None else max(60.0, provider.granularity_s)
        self._fresh_for_s = 2.0 * self._ttl_s  # one missed refresh is not yet a fallback
        self._max_source_age_s = max_source_age_s or max(3.0 * provider.granularity_s, 3600.0)
        self._forecast = forecast
        self._jitter = jitter
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._health = health
        self._on_update = on_update
        self._clock = clock
        self._rng = rng or random.Random()
        self._budget = RequestBudget(budget_per_hour or provider.budget_per_hour, clock())
        self._zones: dict[str, _ZoneState] = {}
        self._held_until = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        cache.add_listener(self._wake.set)

    # --- thread --------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread; it keeps the cache's time (see ``IntensityCache.attend``)."""
        if self._thread is None:
            self._cache.attend()
            self._thread = threading.Thread(
                target=self._loop, name=f"otel-carbon-intensity-{self.provider.name}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._cache.release()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.run_once()
            except Exception:  # a bug here must not kill refreshes for good
                log_once(
                    _logger, f"intensity.loop.{self.provider.name}", "intensity refresh loop failed", exc_info=True
                )
                delay = MAX_SLEEP_S
            self._wake.wait(delay)
            self._wake.clear()

    # --- one pass --------------------------------------------------------------

    def run_once(self) -> float:
        """Refresh every due zone the budget allows; return seconds until the next pass."""
        now = self._clock()
        self._cache.maintain(now)
        for location in self._cache.watched():
            state = self._zones.get(location.zone)
            if (state is None or state.location != location) and self.provider.serves(location):
                self._zones[location.zone] = _ZoneState(location, due_at=now)
        if now < self._held_until:
            return self._next_delay(now)
        due = [(state.due_at, zone) for zone, state in self._zones.items() if state.due_at <= now]
        heapq.heapify(due)
        while due:
            _, zone = heapq.heappop(due)
            state = self._zones[zone]
            want_forecast = self._forecast and now >= state.forecast_due_at
            cost = 2.0 if want_forecast else 1.0
            if not self._budget.take(now, cost):
                self._count_failure(FailureKind.BUDGET)
                return _clamp(min(self._cache.next_change - now, self._budget.seconds_until(now, cost)))
            self._refresh(state, now, want_forecast)
            if now < self._held_until:
                break
        return self._next_delay(self._clock())

    def refresh(self, location: Location) -> bool:
        """Refresh one location now, outside the schedule (the CLI); returns success."""
        now = self._clock()
        state = self._zones.setdefault(location.zone, _ZoneState(location, due_at=now))
        return self._refresh(state, now, self._forecast)

    def _next_delay(self, now: float) -> float:
        """Until the next due zone, the end of a hold, or the cache's next freshness deadline."""
        deadlines = [self._cache.next_change]
        deadlines.append(self._held_until if now < self._held_until else math.inf)
        if now >= self._held_until:
            deadlines.extend(state.due_at for state in self._zones.values())
        return _clamp(min(deadlines) - now)

    def _refresh(self, state: _ZoneState, now: float, want_forecast: bool) -> bool:
        try:
            fetched = self.provider.fetch(state.location, forecast=want_forecast)
            self._store(fetched, now)
        except ProviderError as exc:
            self._failed(state, now, exc)
            return False
        except Exception as exc:  # a provider bug or an unforeseen payload: same treatment
            self._failed(state, now, ProviderError(FailureKind.PAYLOAD, type(exc).__name__))
            return False
        state.failures = 0
        state.due_at = now + self._ttl_s * self._rng.uniform(1.0 - self._jitter, 1.0 + self._jitter)
        if want_forecast:  # tried, with or without success: again in an hour
            state.forecast_due_at = now + max(FORECAST_TTL_S, self._ttl_s)
            if fetched.forecast_error is not None:
                self._report(fetched.forecast_error, "forecast")
        if self._health is not None:
            self._health.refreshed(self.provider.name)
        if self._on_update is not None:
            self._on_update()
        return True

    def _store(self, fetched: Fetched, now: float) -> None:
        if fetched.reading is None and fetched.index is None:
            raise ProviderError(FailureKind.PAYLOAD, "no reading in the answer")
        if fetched.reading is not None:
            fresh_for = self._fresh_for_s
            observed = fetched.reading.observed_at
            if observed is not None:
                # The server's "now": its Date header, else ours.  Skew-free ageing.
                server_now = fetched.server_time or datetime.fromtimestamp(now, timezone.utc)
                age_s = (server_now - observed).total_seconds()
                if age_s < -(self.provider.granularity_s + FUTURE_TOLERANCE_S):
                    raise ProviderError(FailureKind.PAYLOAD, "reading dated in the future")
                if age_s > self._max_source_age_s:
                    fresh_for = 0.0  # stale at the source: kept as last known, flagged
            self._cache.update(fetched.reading, received_at=now, fresh_for_s=fresh_for)
        if fetched.forecast is not None and fetched.forecast.points:
            self._cache.update_forecast(fetched.forecast, received_at=now)
        if fetched.index is not None:  # a relative signal only: lookups keep the flagged static value
            self._cache.update_index(fetched.index)

    def _failed(self, state: _ZoneState, now: float, exc: ProviderError) -> None:
        state.failures += 1
        wait = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** (state.failures - 1))
        wait *= self._rng.uniform(1.0, 1.0 + self._jitter)
        if exc.kind is FailureKind.AUTH:
            wait = self._backoff_max_s
        if exc.retry_after_s is not None:
            wait = max(wait, min(exc.retry_after_s, 86400.0))
        if exc.kind is FailureKind.RATE_LIMITED:
            self._held_until = max(self._held_until, now + wait)
        state.due_at = now + wait
        self._report(exc, "refresh")

    def _report(self, exc: ProviderError, what: str) -> None:
        self._count_failure(exc.kind)
        log_once(
            _logger,
            f"intensity.{self.provider.name}.{what}.{exc.kind.value}",
            "intensity provider %s: %s failed (%s): %s; serving the last known or static value",
            self.provider.name,
            what,
            exc.kind.value,
            exc,
        )

    def _count_failure(self, kind: FailureKind) -> None:
        if self._health is not None:
            self._health.failed(self.provider.name, kind.value)

    def zone_state(self, zone: str) -> tuple[float, int] | None:
        """``(due_at, consecutive failures)`` of a zone (for tests and the CLI)."""
        state = self._zones.get(zone.upper())
        return (state.due_at, state.failures) if state else None


def _clamp(delay: float) -> float:
    return min(MAX_SLEEP_S, max(MIN_SLEEP_S, delay))
