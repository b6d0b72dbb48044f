"""The cache on disk, so that a restart starts warm.

One JSON file (format ``otel-carbon-intensity``, version 1) with the live
readings — each with the epoch second it was received and how long it counts
as fresh, so that a reloaded reading ages exactly as if the process had kept
running — the forecasts and the watched zones.  Writes are atomic (a temporary
file in the same directory, fsync, ``os.replace``) and rate-limited.  A file
that cannot be read or parsed is ignored with a warning and replaced by the
next save; entries that fail validation are skipped one by one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from otel_carbon._files import write_atomically
from otel_carbon._log import log_once
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.providers.base import MAX_FORECAST_POINTS, MAX_PLAUSIBLE_G_PER_KWH
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityReading

_logger = logging.getLogger(__name__)

FORMAT = "otel-carbon-intensity"
VERSION = 1
#: A reading received more than this ago is not reloaded.
MAX_RELOAD_AGE_S = 7 * 86400.0
#: Refuse to read files larger than this (a full cache is well under 1 MiB).
MAX_FILE_BYTES = 8 << 20


def default_path() -> Path:
    """``$XDG_CACHE_HOME/otel-carbon/intensity.json`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "otel-carbon" / "intensity.json"


class CacheFile:
    """Load and save one :class:`IntensityCache` at ``path``."""

    def __init__(
        self, path: Path | str, *, min_interval_s: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last_save = -math.inf
        self._lock = threading.Lock()

    # --- load ------------------------------------------------------------------

    def load(self, cache: IntensityCache) -> int:
        """Restore readings, forecasts and watched zones; returns readings restored (0 on any problem)."""
        try:
            if not self.path.exists():
                return 0
            if self.path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError("file too large")
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
                raise ValueError("not an otel-carbon intensity cache, version 1")
        except (OSError, ValueError) as exc:
            log_once(
                _logger,
                f"intensity.cachefile.{self.path}",
                "ignoring unreadable intensity cache file %s (%s); it will be rebuilt",
                self.path,
                exc,
            )
            return 0
        now = self._clock()
        restored = 0
        for item in _list(document.get("readings")):
            entry = _reading(item, now)
            if entry is not None and cache.update(*entry):
                restored += 1
        for item in _list(document.get("forecasts")):
            forecast = _forecast(item)
            if forecast is not None:
                cache.update_forecast(*forecast)
        for zone in _list(document.get("watched")):
            if isinstance(zone, str) and zone:
                cache.watch(zone)
        return restored

    # --- save ------------------------------------------------------------------

    def save(self, cache: IntensityCache, *, force: bool = False) -> bool:
        """Write the cache atomically unless the last save was under ``min_interval_s`` ago."""
        with self._lock:
            now = self._clock()
            if not force and now - self._last_save < self._min_interval_s:
                return False
            self._last_save = now
            document = {
                "format": FORMAT,
                "version": VERSION,
                "saved_at": now,
                "readings": [
                    {
                        "zone": e.reading.zone,
                        "source": e.reading.source,
                        "g_per_kwh": e.reading.g_per_kwh,
                        "observed_at": e.reading.observed_at.isoformat() if e.reading.observed_at else None,
                        "received_at": e.received_at,
                        "fresh_for_s": e.fresh_for_s,
                    }
                    for e in cache.entries()
                ],
                "forecasts": [
                    {
                        "zone": f.zone,
                        "source": f.source,
                        "received_at": received_at,
                        "generated_at": f.generated_at.isoformat() if f.generated_at else None,
                        "points": [[p.start.isoformat(), p.end.isoformat(), p.g_per_kwh] for p in f.points],
                    }
                    for received_at, f in cache.forecasts()
                ],
                "watched": [location.zone for location in cache.watched()],
            }
            try:
                self._write_atomically(json.dumps(document, separators=(",", ":")))
            except OSError as exc:
                log_once(
                    _logger,
                    f"intensity.cachefile.write.{self.path}",
                    "cannot write intensity cache %s: %s",
                    self.path,
                    exc,
                )
                return False
            return True

    def _write_atomically(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, text.encode("utf-8"))


def _list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else []


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _value(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    value = float(raw)
    return value if math.isfinite(value) and 0.0 <= value <= MAX_PLAUSIBLE_G_PER_KWH else None


def _reading(item: Any, now: float) -> tuple[IntensityReading, float, float] | None:
    """``(reading, received_at, fresh_for_s)``; a reading from the future (clock moved back) counts as stale."""
    if not isinstance(item, dict):
        return None
    zone, source = item.get("zone"), item.get("source")
    value, received_at, fresh_for = _value(item.get("g_per_kwh")), item.get("received_at"), item.get("fresh_for_s")
    if not (isinstance(zone, str) and zone and isinstance(source, str) and source and value is not None):
        return None
    if isinstance(received_at, bool) or not isinstance(received_at, (int, float)) or not math.isfinite(received_at):
        return None
    if isinstance(fresh_for, bool) or not isinstance(fresh_for, (int, float)) or not 0 <= fresh_for < math.inf:
        return None
    if now - received_at > MAX_RELOAD_AGE_S:
        return None
    if received_at > now:
        received_at, fresh_for = now, 0.0
    reading = IntensityReading(zone, value, source, observed_at=_time(item.get("observed_at")))
    return reading, float(received_at), float(fresh_for)


def _forecast(item: Any) -> tuple[Forecast, float] | None:
    if not isinstance(item, dict):
        return None
    zone, source, received_at = item.get("zone"), item.get("source"), item.get("received_at")
    if not (isinstance(zone, str) and isinstance(source, str) and isinstance(received_at, (int, float))):
        return None
    points = []
    for raw in _list(item.get("points"))[:MAX_FORECAST_POINTS]:
        if not (isinstance(raw, list) and len(raw) == 3):
            return None
        start, end, value = _time(raw[0]), _time(raw[1]), _value(raw[2])
        if start is None or end is None or value is None or end <= start:
            return None
        points.append(ForecastPoint(start, end, value))
    return Forecast(zone, source, tuple(points), _time(item.get("generated_at"))), float(received_at)
