"""The hot table: every spelling of a zone → the reading published for it.

``IntensityCache.lookup`` *is* ``HotTable.__getitem__`` (dict's own, in C): a hit is one dict
lookup; a miss calls ``miss(zone)`` through ``__missing__``.  A published reading is the same
object until it changes, so callers can tell a refresh by identity.  Answers that may go stale
with time and have no refresh thread keeping time are *held* instead: kept beside the table with
the epoch second they are valid until, so the miss path checks them against the clock.

Writes happen under the cache's lock; reads take none.
"""

from __future__ import annotations

from collections.abc import Callable

from otel_carbon.intensity.reading import IntensityReading


class HotTable(dict):  # type: ignore[type-arg]
    """Spelling → published :class:`IntensityReading`; spellings are memoised up to ``max_keys``."""

    __slots__ = ("_count", "_held", "_max_keys", "_spellings", "miss")

    def __init__(self, miss: Callable[[str], IntensityReading], max_keys: int) -> None:
        super().__init__()
        self.miss = miss
        self._spellings: dict[str, set[str]] = {}  # canonical zone → spellings looked up
        self._count = 0
        self._max_keys = max_keys
        self._held: dict[str, tuple[float, IntensityReading]] = {}

    def __missing__(self, zone: str) -> IntensityReading:
        return self.miss(zone)

    def held(self, zone: str, now: float) -> IntensityReading | None:
        """The held answer for ``zone`` while it is still valid at ``now``."""
        held = self._held.get(zone)
        return held[1] if held is not None and now < held[0] else None

    def remember(self, spelling: str, canonical: str) -> bool:
        """Record ``spelling`` as a key of ``canonical``; False when the table is full (not memoised)."""
        spellings = self._spellings.setdefault(canonical, set())
        if spelling in spellings:
            return True
        if self._count >= self._max_keys:
            return False
        spellings.add(spelling)
        self._count += 1
        return True

    def publish(self, canonical: str, reading: IntensityReading) -> None:
        """``reading`` answers every remembered spelling of ``canonical`` from now on."""
        self.remember(canonical, canonical)
        for key in self._spellings[canonical]:
            self[key] = reading
            self._held.pop(key, None)

    def hold(self, canonical: str, reading: IntensityReading, valid_until: float) -> None:
        """``reading`` answers ``canonical``'s spellings through the miss path until ``valid_until``."""
        self.remember(canonical, canonical)
        for key in self._spellings[canonical]:
            self.pop(key, None)
            self._held[key] = (valid_until, reading)
