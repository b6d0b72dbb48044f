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
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from otel_carbon._log import log_once
from otel_carbon.intensity.reading import Forecast, IntensityIndex, IntensityReading
from otel_carbon.intensity.static import WORLD, StaticIntensity
from otel_carbon.intensity.window import CleanWindow, best_window
from otel_carbon.intensity.zones import Location

_logger = logging.getLogger(__name__)

#: Spellings of zones memoised for the hot path; beyond this, misses are resolved each time.
MAX_HOT_KEYS = 4096
#: Zones with live data, watched zones, forecasts and indices are each capped at this many.
DEFAULT_MAX_ZONES = 256
#: Live readings older than this are forgotten (the static average takes over).
DEFAULT_RETAIN_S = 7 * 86400.0


@dataclass(frozen=True)
class LiveEntry:
    """A live reading and its timing on *our* clock (epoch seconds)."""

    reading: IntensityReading
    received_at: float
    fresh_for_s: float

    @property
    def fresh_until(self) -> float:
        return self.received_at + self.fresh_for_s


class _HotTable(dict):  # type: ignore[type-arg]
    """zone → published reading; a miss calls back into the cache."""

    __slots__ = ("miss",)
    miss: Callable[[str], IntensityReading]

    def __missing__(self, zone: str) -> IntensityReading:
        return self.miss(zone)


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
        self._max_zones = max_zones
        self._retain_s = retain_s
        self._lock = threading.RLock()
        self._live: dict[str, dict[str, LiveEntry]] = {}
        self._aliases: dict[str, set[str]] = {}
        self._forecasts: dict[str, dict[str, tuple[float, Forecast]]] = {}
        self._indices: dict[str, IntensityIndex] = {}
        self._watched: dict[str, Location] = {}
        self._listeners: list[Callable[[], None]] = []
        self._closers: list[Callable[[], object]] = []
        self._next_change = math.inf
        self._alias_count = 0
        self._attendants = 0
        self._checked: dict[str, tuple[float, IntensityReading]] = {}
        self._hot = _HotTable()
        self._hot.miss = self._miss
        self.lookup = self._hot.__getitem__
        #: The background refreshers feeding this cache (set by ``build_intensity``).
        self.refreshers: tuple[Any, ...] = ()

    @property
    def static(self) -> StaticIntensity:
        return self._static

    # --- hot path miss --------------------------------------------------------

    def _miss(self, zone: str) -> IntensityReading:
        try:
            checked = self._checked.get(zone)
            if checked is not None and self._clock() < checked[0]:
                return checked[1]
            canonical = zone.strip().upper()
            with self._lock:
                if canonical in self._live:
                    self._publish_locked(canonical, self._clock())
                reading = self._resolve(canonical, self._clock())
                if self._alias_count < MAX_HOT_KEYS:
                    keys = self._aliases.setdefault(canonical, set())
                    if zone not in keys:
                        keys.add(zone)
                        self._alias_count += 1
                    if self._publishable(canonical):
                        self._hot[zone] = reading
                self._watch_locked(Location(canonical))
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
        entries = self._live.get(canonical)
        if entries:
            fresh = [entry for entry in entries.values() if now < entry.fresh_until]
            if fresh:
                return min(fresh, key=self._rank_of).reading
            newest = max(entries.values(), key=lambda entry: entry.received_at)
            return replace(newest.reading, fallback=True)
        reading = self._static.lookup(canonical)
        if not reading.fallback and self._serves_zone(canonical):
            return replace(reading, fallback=True)
        return reading

    def _rank_of(self, entry: LiveEntry) -> int:
        return self._rank.get(entry.reading.source.partition(".")[0], len(self._rank))

    def _publish_locked(self, canonical: str, now: float) -> None:
        keys = self._aliases.setdefault(canonical, set())
        if canonical not in keys and self._alias_count < MAX_HOT_KEYS:
            keys.add(canonical)
            self._alias_count += 1
        reading = self._resolve(canonical, now)
        if self._publishable(canonical):
            for key in keys:
                self._hot[key] = reading
                self._checked.pop(key, None)
        else:  # valid until the next deadline; _miss compares it with the clock on every lookup
            valid_until = self._next_deadline(canonical, now)
            for key in keys:
                self._hot.pop(key, None)
                self._checked[key] = (valid_until, reading)

    def _next_deadline(self, canonical: str, now: float) -> float:
        """When ``canonical``'s answer changes by itself: a reading goes stale or is forgotten."""
        deadlines = [
            entry.fresh_until if entry.fresh_until > now else entry.received_at + self._retain_s
            for entry in self._live.get(canonical, {}).values()
        ]
        return min(deadlines, default=math.inf)

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
        for canonical in list(self._live):
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
            if canonical not in self._live and len(self._live) >= self._max_zones:
                log_once(
                    _logger,
                    "intensity.max_zones",
                    "intensity cache holds %d zones; ignoring new zone %s",
                    self._max_zones,
                    canonical,
                )
                return False
            self._live.setdefault(canonical, {})[reading.source] = entry
            self._next_change = min(self._next_change, self._next_deadline(canonical, now))
            self._publish_locked(canonical, now)
        return True

    def update_forecast(self, forecast: Forecast, received_at: float | None = None) -> None:
        canonical = forecast.zone.upper()
        with self._lock:
            if canonical not in self._forecasts and len(self._forecasts) >= self._max_zones:
                return
            stamp = self._clock() if received_at is None else received_at
            self._forecasts.setdefault(canonical, {})[forecast.source] = (stamp, replace(forecast, zone=canonical))

    def update_index(self, index: IntensityIndex) -> None:
        canonical = index.zone.upper()
        with self._lock:
            if canonical in self._indices or len(self._indices) < self._max_zones:
                self._indices[canonical] = replace(index, zone=canonical)

    def maintain(self, now: float | None = None) -> None:
        """Re-publish zones whose readings went stale; forget readings past ``retain_s``.

        Cheap when nothing is due: one comparison against the next deadline.
        """
        now = self._clock() if now is None else now
        if now < self._next_change:
            return
        with self._lock:
            next_change = math.inf
            for canonical in list(self._live):
                entries = self._live[canonical]
                for source in [s for s, e in entries.items() if now - e.received_at > self._retain_s]:
                    del entries[source]
                if not entries:
                    del self._live[canonical]  # back to the static answer
                self._publish_locked(canonical, now)
                next_change = min(next_change, self._next_deadline(canonical, now))
            self._next_change = next_change

    # --- watched zones -----------------------------------------------------------

    def watch(self, zone: str, cloud: tuple[str, str] | None = None) -> None:
        """Ask the refreshers to keep ``zone`` fresh (``cloud``: its (provider, region), if known)."""
        with self._lock:
            self._watch_locked(Location(zone.strip().upper(), cloud))

    def _watch_locked(self, location: Location) -> None:
        known = self._watched.get(location.zone)
        if known == location or (known is not None and location.cloud is None):
            return
        if known is None and (len(self._watched) >= self._max_zones or not self._serves_zone(location.zone)):
            return
        self._watched[location.zone] = location
        for listener in self._listeners:
            listener()

    def watched(self) -> list[Location]:
        with self._lock:
            return list(self._watched.values())

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` is called (under the cache lock) when a zone starts being watched."""
        with self._lock:
            self._listeners.append(listener)

    # --- reads off the hot path ---------------------------------------------------

    def entries(self) -> Iterator[LiveEntry]:
        with self._lock:
            items = [entry for entries in self._live.values() for entry in entries.values()]
        return iter(items)

    def forecasts(self) -> Iterator[tuple[float, Forecast]]:
        with self._lock:
            items = [item for by_source in self._forecasts.values() for item in by_source.values()]
        return iter(items)

    def ages(self, now: float | None = None) -> list[tuple[str, str, float]]:
        """``(zone, source, seconds since received)`` of every live reading (health metric)."""
        now = self._clock() if now is None else now
        return [(e.reading.zone, e.reading.source, max(0.0, now - e.received_at)) for e in self.entries()]

    def forecast(self, zone: str) -> Forecast | None:
        """The forecast of the highest-priority provider that has one for ``zone``."""
        with self._lock:
            by_source = dict(self._forecasts.get(zone.strip().upper(), {}))
        if not by_source:
            return None
        best = min(
            by_source.values(),
            key=lambda item: (self._rank.get(item[1].source.partition(".")[0], len(self._rank)), -item[0]),
        )
        return best[1]

    def index(self, zone: str) -> IntensityIndex | None:
        """A relative signal (e.g. WattTime's percentile) for ``zone``; never part of a reading."""
        return self._indices.get(zone.strip().upper())

    def best_window(self, zone: str, duration: timedelta, deadline: datetime, *, now: datetime | None = None) -> CleanWindow:
        """The lowest-carbon start before ``deadline`` for work lasting ``duration`` (temporal shifting).

        Uses the zone's forecast; without one that covers any candidate
        window, answers "start now" at the current intensity, flagged ``fallback``.
        """
        now = now or datetime.fromtimestamp(self._clock(), timezone.utc)
        forecast = self.forecast(zone)
        window = best_window(forecast, duration, deadline, now) if forecast else None
        if window is not None:
            return window
        reading = self.lookup(zone)
        return CleanWindow(
            start=now,
            end=now + duration,
            g_per_kwh=reading.g_per_kwh,
            zone=reading.zone,
            source=reading.source,
            fallback=True,
            immediate_g_per_kwh=reading.g_per_kwh,
        )

    # --- lifecycle -------------------------------------------------------------------

    def on_close(self, closer: Callable[[], object]) -> None:
        """Run ``closer`` at :meth:`close` (refresh threads, the cache file, the HTTP client)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Stop background work and persist; lookups keep answering from memory afterwards."""
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            try:
                closer()
            except Exception:
                log_once(_logger, "intensity.close", "closing the intensity cache failed", exc_info=True)
