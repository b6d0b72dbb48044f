"""Grid carbon intensity: readings, the static table, cloud zones, live providers and the cache.

``build_intensity(settings)`` (in :mod:`otel_carbon.intensity.factory`, loaded
lazily) returns a ready :class:`IntensityCache`; see ``docs/intensity.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityIndex, IntensityLookup, IntensityReading
from otel_carbon.intensity.static import StaticIntensity
from otel_carbon.intensity.window import CleanWindow, best_window
from otel_carbon.intensity.zones import parse_region, region_info, zone_for_region

if TYPE_CHECKING:  # pragma: no cover
    from otel_carbon.intensity.factory import build_intensity

__all__ = [
    "CleanWindow",
    "Forecast",
    "ForecastPoint",
    "IntensityCache",
    "IntensityIndex",
    "IntensityLookup",
    "IntensityReading",
    "StaticIntensity",
    "best_window",
    "build_intensity",
    "parse_region",
    "region_info",
    "zone_for_region",
]


def __getattr__(name: str) -> Any:
    # The factory pulls in httpx and the metrics API: load it only when asked for.
    if name == "build_intensity":
        from otel_carbon.intensity.factory import build_intensity

        return build_intensity
    raise AttributeError(f"module 'otel_carbon.intensity' has no attribute {name!r}")
