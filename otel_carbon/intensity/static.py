"""Shipped annual grid intensity per country (``data/grid_intensity.csv``).

Values are annual location-based averages per country (Our World in Data /
Ember, CC BY 4.0) and, for grid zones that host Google Cloud regions, Google's
published regional figures (Apache-2.0); see ``data/SOURCES.md``.  A zone the table does not hold answers with a
coarser zone it does hold — ``US-CAL-CISO`` → ``US`` — and finally ``WORLD``,
flagged as a fallback.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources

from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.intensity.zones import cloud_regions

WORLD = "WORLD"
SOURCE = "static"


class StaticIntensity:
    """Lookup over a fixed table of gCO2e/kWh per zone; never blocks, never raises."""

    def __init__(self, table: Mapping[str, float], source: str = SOURCE) -> None:
        if WORLD not in table:
            raise ValueError("the static intensity table must hold a WORLD row")
        self._table = {zone.upper(): float(value) for zone, value in table.items()}
        self._source = source
        self._readings: dict[str, IntensityReading] = {}

    @classmethod
    def shipped(cls) -> StaticIntensity:
        return _shipped()

    def __contains__(self, zone: str) -> bool:
        return zone.upper() in self._table

    def zones(self) -> Iterable[str]:
        return self._table.keys()

    def lookup(self, zone: str) -> IntensityReading:
        reading = self._readings.get(zone)
        if reading is None:
            reading = self._resolve(zone)
            if len(self._readings) < 4096:
                self._readings[zone] = reading
        return reading

    def _resolve(self, zone: str) -> IntensityReading:
        key = zone.upper()
        while key:
            if key in self._table:
                return IntensityReading(key, self._table[key], self._source, fallback=key != zone.upper())
            key = key.rpartition("-")[0]
        return IntensityReading(WORLD, self._table[WORLD], self._source, fallback=True)


def check_zone(zone: str) -> str:
    """``zone`` upper-cased if the shipped table holds it or a coarser zone of it (``US-CAL-CISO`` → ``US``),
    or it is ``WORLD``; else ``ValueError`` (a typo would otherwise be priced at the world average)."""
    key = zone.strip().upper()
    if key != WORLD and _shipped().lookup(key).zone == WORLD:
        raise ValueError(
            f"unknown grid zone {zone!r}: expected a country code such as FR, a sub-zone such as US-CAL-CISO, or WORLD"
        )
    return key


def sub_national_averages() -> dict[str, float]:
    """gCO2e/kWh per grid zone from cloud regions with a published annual figure.

    Google publishes each region's grid intensity (Apache-2.0); a zone served
    by several such regions gets their mean.  These rows are finer than the
    country table (``US-NW-BPAT`` rather than ``US``).
    """
    values: dict[str, list[float]] = {}
    for region in cloud_regions().values():
        if region.g_per_kwh is not None:
            values.setdefault(region.zone.upper(), []).append(region.g_per_kwh)
    return {zone: sum(v) / len(v) for zone, v in values.items()}


@lru_cache(maxsize=1)
def _shipped() -> StaticIntensity:
    path = resources.files("otel_carbon").joinpath("data", "grid_intensity.csv")
    with path.open("r", encoding="utf-8", newline="") as fh:  # type: ignore[call-overload]  # a real file: typeshed's Traversable lacks newline=
        table = {row["zone"]: float(row["g_co2e_per_kwh"]) for row in csv.DictReader(fh)}
    for zone, value in sub_national_averages().items():
        table.setdefault(zone, value)  # a country's own row stays the country's
    return StaticIntensity(table)
