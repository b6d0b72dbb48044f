"""Live readings per zone and source, with their timing: the store behind the cache's answers.

Not thread-safe on its own: :class:`~otel_carbon.intensity.cache.IntensityCache` holds its lock
around every call.  Times are epoch seconds on the cache's clock.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from otel_carbon._log import log_once
from otel_carbon.intensity.reading import IntensityReading

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveEntry:
    """A live reading and its timing on *our* clock (epoch seconds)."""

    reading: IntensityReading
    received_at: float
    fresh_for_s: float

    @property
    def fresh_until(self) -> float:
        return self.received_at + self.fresh_for_s


class LiveReadings:
    """Zone (canonical, upper case) → source → :class:`LiveEntry`, for at most ``max_zones`` zones.

    ``rank(source)`` orders sources when several are fresh (lower first); readings older than
    ``retain_s`` are dropped by :meth:`forget_old`.
    """

    def __init__(self, *, max_zones: int, retain_s: float, rank: Callable[[str], int]) -> None:
        self._max_zones = max_zones
        self._retain_s = retain_s
        self._rank = rank
        self._by_zone: dict[str, dict[str, LiveEntry]] = {}

    def __contains__(self, zone: object) -> bool:
        return zone in self._by_zone

    def zones(self) -> list[str]:
        return list(self._by_zone)

    def add(self, entry: LiveEntry) -> bool:
        """Keep ``entry`` for its zone and source; False (logged once) when the zone cap is reached."""
        zone = entry.reading.zone
        if zone not in self._by_zone and len(self._by_zone) >= self._max_zones:
            log_once(_logger, "intensity.max_zones", "intensity cache holds %d zones; ignoring new zone %s",
                     self._max_zones, zone)
            return False
        self._by_zone.setdefault(zone, {})[entry.reading.source] = entry
        return True

    def answer(self, zone: str, now: float) -> IntensityReading | None:
        """The fresh reading of the best-ranked source, else the newest one flagged ``fallback``;
        ``None`` when the zone has no live reading."""
        entries = self._by_zone.get(zone)
        if not entries:
            return None
        fresh = [entry for entry in entries.values() if now < entry.fresh_until]
        if fresh:
            return min(fresh, key=lambda entry: self._rank(entry.reading.source)).reading
        newest = max(entries.values(), key=lambda entry: entry.received_at)
        return replace(newest.reading, fallback=True)

    def deadline(self, zone: str, now: float) -> float:
        """When ``zone``'s answer changes by itself: a reading goes stale or is forgotten."""
        deadlines = [
            entry.fresh_until if entry.fresh_until > now else entry.received_at + self._retain_s
            for entry in self._by_zone.get(zone, {}).values()
        ]
        return min(deadlines, default=math.inf)

    def forget_old(self, zone: str, now: float) -> None:
        """Drop ``zone``'s readings received more than ``retain_s`` before ``now`` (and the zone with the last)."""
        entries = self._by_zone.get(zone, {})
        for source in [s for s, e in entries.items() if now - e.received_at > self._retain_s]:
            del entries[source]
        if not entries:
            self._by_zone.pop(zone, None)

    def entries(self) -> list[LiveEntry]:
        return [entry for entries in self._by_zone.values() for entry in entries.values()]
