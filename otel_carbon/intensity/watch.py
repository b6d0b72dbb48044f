"""The zones the refreshers keep fresh, and who to wake when one is added."""

from __future__ import annotations

import threading
from collections.abc import Callable

from otel_carbon.intensity.zones import Location


class WatchList:
    """Zone → :class:`Location` for at most ``max_zones`` zones that a live provider ``serves``.

    Thread-safe.  A location with a cloud region replaces one without; listeners are called
    (under this list's lock, so they must not block) each time the list changes.
    """

    def __init__(self, *, max_zones: int, serves: Callable[[str], bool]) -> None:
        self._max_zones = max_zones
        self._serves = serves
        self._lock = threading.Lock()
        self._watched: dict[str, Location] = {}
        self._listeners: list[Callable[[], None]] = []

    def watch(self, location: Location) -> None:
        with self._lock:
            known = self._watched.get(location.zone)
            if known == location or (known is not None and location.cloud is None):
                return
            if known is None and (len(self._watched) >= self._max_zones or not self._serves(location.zone)):
                return
            self._watched[location.zone] = location
            for listener in self._listeners:
                listener()

    def watched(self) -> list[Location]:
        with self._lock:
            return list(self._watched.values())

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)
