"""The intensity cache: the hot path's only door to grid intensity.

``lookup(zone)`` returns at once and never raises: the freshest live reading
for the zone, else the last known one (flagged ``fallback``), else the static
annual average (flagged ``fallback`` when a live provider serves the zone or
the zone is not in the table).  Live providers feed it from their background
refresh threads (:mod:`otel_carbon.intensity.refresh`).

Hot-path design: answers are resolved *off* the hot path and published in a
plain ``dict`` (zone as the caller spells it → final reading).  ``lookup`` is
that dict's own ``__getitem__``, so a hit costs one C-level dict lookup, with
no Python frame, lock or clock read; a miss falls through to ``__missing__``,
which resolves the zone, memoises it (bounded) and asks the refreshers to
watch it.  A live answer goes stale with time, so it is published only while
a refresh thread keeps time (:meth:`IntensityCache.attend`): that thread
wakes at every freshness deadline (:attr:`IntensityCache.next_change`) and
calls :meth:`IntensityCache.maintain`, which re-publishes the flagged answer.
Without such a thread (a cache fed by hand), zones with live data are checked
against the clock on each lookup instead.

The cache is a facade over collaborators with one job each: the hot table
(:mod:`~otel_carbon.intensity.hot`), the live readings
(:mod:`~otel_carbon.intensity.live`), forecasts and indices
(:mod:`~otel_carbon.intensity.forecasts`) and the watched zones
(:mod:`~otel_carbon.intensity.watch`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from otel_carbon._log import log_once
from otel_carbon.intensity.forecasts import ForecastStore
from otel_carbon.intensity.hot import HotTable
from otel_carbon.intensity.live import LiveEntry, LiveReadings
from otel_carbon.intensity.reading import Forecast, IntensityIndex, IntensityReading
from otel_carbon.intensity.static import WORLD, StaticIntensity
from otel_carbon.intensity.watch import WatchList
from otel_carbon.intensity.window import CleanWindow, best_window
from otel_carbon.intensity.zones import Location

if TYPE_CHECKING:  # pragma: no cover
    from otel_carbon.intensity.refresh import Refresher

_logger = logging.getLogger(__name__)

#: Spellings of zones memoised for the hot path; beyond this, misses are resolved each time.
MAX_HOT_KEYS = 4096
#: Zones with live data, watched zones, forecasts and indices are each capped at this many.
DEFAULT_MAX_ZONES = 256
#: Live readings older than this are forgotten (the static average takes over).
DEFAULT_RETAIN_S = 7 * 86400.0


class IntensityCache:
    """Zone → latest :class:`IntensityReading`, with the static table behind it.

    ``lookup(zone: str) -> IntensityReading`` never blocks and never raises for
    a string zone.  ``max_age_s`` is how long a reading given to :meth:`update`
    without ``fresh_for_s`` counts as fresh.  ``live`` says that a live
    provider serves every zone, ``serves`` that it serves some (then a static
    answer for such a zone is a fallback).  ``priority`` orders provider names
    (the part of ``source`` before the first dot) when several are fresh.
    """

    lookup: Callable[[str], IntensityReading]

    def __init__(
        self,
        static: StaticIntensity | None = None,
        *,
        max_age_s: float = 3600.0,
        live: bool = False,
        serves: Callable[[str], bool] | None = None,
        priority: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        max_zones: int = DEFAULT_MAX_ZONES,
        retain_s: float = DEFAULT_RETAIN_S,
    ) -> None:
        self._static = static or StaticIntensity.shipped()
        self._max_age_s = max_age_s
        self._live_everywhere = live
        self._serves = serves
        self._rank = {name: index for index, name in enumerate(priority)}
        self._clock = clock
        self._lock = threading.RLock()
        self._live = LiveReadings(max_zones=max_zones, retain_s=retain_s, rank=self._rank_of)
        self._outlook = ForecastStore(max_zones=max_zones, rank=self._rank_of)
        self._watch = WatchList(max_zones=max_zones, serves=self._serves_zone)
        self._closers = contextlib.ExitStack()
        self._refreshers: list[Refresher] = []
        self._next_change = math.inf
        self._attendants = 0
        self._hot = HotTable(self._miss, MAX_HOT_KEYS)
        self.lookup = self._hot.__getitem__

    @property
    def static(self) -> StaticIntensity:
        return self._static

    # --- hot path miss --------------------------------------------------------

    def _miss(self, zone: str) -> IntensityReading:
        try:
            held = self._hot.held(zone, self._clock())
            if held is not None:
                return held
            canonical = zone.strip().upper()
            with self._lock:
                if canonical in self._live:
                    self._publish_locked(canonical, self._clock())
                reading = self._resolve(canonical, self._clock())
                if self._hot.remember(zone, canonical) and self._publishable(canonical):
                    self._hot[zone] = reading
            self._watch.watch(Location(canonical))
            return reading
        except Exception:  # never raise into the caller's span pipeline
            log_once(
                _logger, f"intensity.miss.{type(zone).__name__}", "intensity lookup failed for %r", zone, exc_info=True
            )
            return replace(self._static.lookup(WORLD), fallback=True)

    def _publishable(self, canonical: str) -> bool:
        """Whether ``canonical``'s answer may sit in the hot table: it cannot go stale by
        itself (no live data), or a refresh thread keeps time (:meth:`attend`)."""
        return self._attendants > 0 or canonical not in self._live

    def _serves_zone(self, canonical: str) -> bool:
        if self._live_everywhere:
            return True
        try:
            return self._serves is not None and self._serves(canonical)
        except Exception:  # a provider's zone table failing must not break lookups
            log_once(
                _logger, "intensity.serves", "cannot tell whether %s has a live provider", canonical, exc_info=True
            )
            return False

    def _resolve(self, canonical: str, now: float) -> IntensityReading:
        live = self._live.answer(canonical, now)
        if live is not None:
            return live
        reading = self._static.lookup(canonical)
        if not reading.fallback and self._serves_zone(canonical):
            return replace(reading, fallback=True)
        return reading

    def _rank_of(self, source: str) -> int:
        return self._rank.get(source.partition(".")[0], len(self._rank))

    def _publish_locked(self, canonical: str, now: float) -> None:
        reading = self._resolve(canonical, now)
        if self._publishable(canonical):
            self._hot.publish(canonical, reading)
        else:  # valid until the next deadline; _miss compares it with the clock on every lookup
            self._hot.hold(canonical, reading, self._live.deadline(canonical, now))

    # --- time keeping ------------------------------------------------------------------

    def attend(self) -> None:
        """A refresh thread promises to call :meth:`maintain` by every :attr:`next_change`.

        From then on live answers are published to the hot table too (lookups
        read no clock); until then, and after the last :meth:`release`, zones
        with live data are checked against the clock on each lookup.
        """
        with self._lock:
            self._attendants += 1
            self._republish_all_locked()

    def release(self) -> None:
        with self._lock:
            self._attendants = max(0, self._attendants - 1)
            self._republish_all_locked()

    def _republish_all_locked(self) -> None:
        now = self._clock()
        for canonical in self._live.zones():
            self._publish_locked(canonical, now)

    @property
    def next_change(self) -> float:
        """Epoch second at which some live answer changes by itself (goes stale or expires)."""
        return self._next_change

    # --- feeding (refresh threads) ---------------------------------------------

    def update(
        self, reading: IntensityReading, received_at: float | None = None, fresh_for_s: float | None = None
    ) -> bool:
        """Store a live reading for its zone; returns False when the zone cap is reached."""
        canonical = reading.zone.upper()
        now = self._clock()
        entry = LiveEntry(
            replace(reading, zone=canonical, fallback=False),
            now if received_at is None else received_at,
            self._max_age_s if fresh_for_s is None else max(0.0, fresh_for_s),
        )
        with self._lock:
            if not self._live.add(entry):
                return False
            self._next_change = min(self._next_change, self._live.deadline(canonical, now))
            self._publish_locked(canonical, now)
        return True

    def update_forecast(self, forecast: Forecast, received_at: float | None = None) -> None:
        self._outlook.add_forecast(forecast, self._clock() if received_at is None else received_at)

    def update_index(self, index: IntensityIndex) -> None:
        self._outlook.add_index(index)

    def maintain(self, now: float | None = None) -> None:
        """Re-publish zones whose readings went stale; forget readings past ``retain_s``.

        Cheap when nothing is due: one comparison against the next deadline.
        """
        now = self._clock() if now is None else now
        if now < self._next_change:
            return
        with self._lock:
            next_change = math.inf
            for canonical in self._live.zones():
                self._live.forget_old(canonical, now)  # the last one gone: back to the static answer
                self._publish_locked(canonical, now)
                next_change = min(next_change, self._live.deadline(canonical, now))
            self._next_change = next_change

    # --- watched zones -----------------------------------------------------------

    def watch(self, zone: str, cloud: tuple[str, str] | None = None) -> None:
        """Ask the refreshers to keep ``zone`` fresh (``cloud``: its (provider, region), if known)."""
        self._watch.watch(Location(zone.strip().upper(), cloud))

    def watched(self) -> list[Location]:
        return self._watch.watched()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` is called (it must not block) when a zone starts being watched."""
        self._watch.add_listener(listener)

    # --- reads off the hot path ---------------------------------------------------

    def entries(self) -> Iterator[LiveEntry]:
        with self._lock:
            return iter(self._live.entries())

    def forecasts(self) -> Iterator[tuple[float, Forecast]]:
        return iter(self._outlook.forecasts())

    def ages(self, now: float | None = None) -> list[tuple[str, str, float]]:
        """``(zone, source, seconds since received)`` of every live reading (health metric)."""
        now = self._clock() if now is None else now
        return [(e.reading.zone, e.reading.source, max(0.0, now - e.received_at)) for e in self.entries()]

    def forecast(self, zone: str) -> Forecast | None:
        """The forecast of the highest-priority provider that has one for ``zone``."""
        return self._outlook.forecast(zone)

    def index(self, zone: str) -> IntensityIndex | None:
        """A relative signal (e.g. WattTime's percentile) for ``zone``; never part of a reading."""
        return self._outlook.index(zone)

    def best_window(
        self, zone: str, duration: timedelta, deadline: datetime, *, now: datetime | None = None
    ) -> CleanWindow:
        """The lowest-carbon start before ``deadline`` for work lasting ``duration`` (temporal shifting).

        Uses the zone's forecast; without one that covers any candidate
        window, answers "start now" at the current intensity, flagged ``fallback``.
        """
        now = now or datetime.fromtimestamp(self._clock(), timezone.utc)
        forecast = self.forecast(zone)
        window = best_window(forecast, duration, deadline, now) if forecast else None
        return window or CleanWindow.starting_now(self.lookup(zone), now, duration)

    # --- lifecycle -------------------------------------------------------------------

    def add_refresher(self, refresher: Refresher) -> None:
        """A background refresher feeding this cache: listed in :attr:`refreshers`, stopped at :meth:`close`."""
        self._refreshers.append(refresher)
        self.on_close(refresher.stop)

    @property
    def refreshers(self) -> tuple[Refresher, ...]:
        """The refreshers feeding this cache (for a one-shot synchronous refresh)."""
        return tuple(self._refreshers)

    def on_close(self, closer: Callable[[], object]) -> None:
        """Run ``closer`` at :meth:`close`, the last added first (refresh threads, the cache file, the HTTP client)."""
        self._closers.callback(_close_quietly, closer)

    def close(self) -> None:
        """Stop background work and persist; lookups keep answering from memory afterwards."""
        self._closers.close()


def _close_quietly(closer: Callable[[], object]) -> None:
    try:
        closer()
    except Exception:
        log_once(_logger, "intensity.close", "closing the intensity cache failed", exc_info=True)
