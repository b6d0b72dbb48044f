"""The intensity cache: the hot path's only door to grid intensity.

``lookup`` returns at once and never raises: the freshest live reading for the
zone, else the last known one (flagged ``fallback``), else the static annual
average (flagged ``fallback`` when a live source was expected).  Live providers
feed it through :meth:`IntensityCache.update` from their own threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable

from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.intensity.static import StaticIntensity


class IntensityCache:
    """Zone → latest :class:`IntensityReading`, with the static table behind it.

    ``max_age_s`` is how long a live reading counts as fresh; older readings are
    still served, flagged as a fallback.  ``live`` says whether a live provider
    is configured (then a static answer is a fallback too).
    """

    def __init__(
        self,
        static: StaticIntensity | None = None,
        *,
        max_age_s: float = 3600.0,
        live: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._static = static or StaticIntensity.shipped()
        self._max_age_s = max_age_s
        self._live = live
        self._clock = clock
        self._readings: dict[str, tuple[float, IntensityReading]] = {}
        self._lock = threading.Lock()

    @property
    def static(self) -> StaticIntensity:
        return self._static

    def update(self, reading: IntensityReading, received_at: float | None = None) -> None:
        """Store a live reading for its zone (thread-safe; called off the hot path)."""
        with self._lock:
            self._readings[reading.zone.upper()] = (received_at or self._clock(), reading)

    def lookup(self, zone: str) -> IntensityReading:
        entry = self._readings.get(zone.upper())  # dict reads are atomic: no lock on the hot path
        if entry is not None:
            received_at, reading = entry
            if self._clock() - received_at <= self._max_age_s:
                return reading
            return replace(reading, fallback=True)
        reading = self._static.lookup(zone)
        if self._live and not reading.fallback:
            return replace(reading, fallback=True)
        return reading
