"""Grid carbon intensity: readings, the shipped static table, cloud zones and the cache."""

from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.reading import IntensityLookup, IntensityReading
from otel_carbon.intensity.static import StaticIntensity
from otel_carbon.intensity.zones import parse_region, region_info, zone_for_region

__all__ = [
    "IntensityCache",
    "IntensityLookup",
    "IntensityReading",
    "StaticIntensity",
    "parse_region",
    "region_info",
    "zone_for_region",
]
