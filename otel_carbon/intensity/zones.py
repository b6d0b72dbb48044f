"""Cloud region → grid zone (``data/cloud_regions.csv``).

Zones use Electricity Maps' zone keys (``US-MIDA-PJM``, ``IE``, ``SE-SE3``);
the static table resolves them to the most specific row it holds.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Values of the OTel ``cloud.provider`` resource attribute, and common aliases.
_PROVIDER_ALIASES = {"google": "gcp", "google_cloud": "gcp", "gcp": "gcp", "aws": "aws", "azure": "azure"}


@dataclass(frozen=True)
class CloudRegion:
    """One cloud region and the grid it draws from."""

    provider: str
    region: str
    location: str
    country: str
    zone: str
    watttime_region: str | None
    latitude: float | None
    longitude: float | None
    g_per_kwh: float | None  # the provider's own published annual figure, where open


@dataclass(frozen=True)
class Location:
    """Where to ask a provider for: our zone key (the cache key) and, when known, the cloud region."""

    zone: str
    cloud: tuple[str, str] | None = None  # (provider, region), lower case


def _optional_float(raw: str | None) -> float | None:
    return float(raw) if raw not in (None, "") else None


@lru_cache(maxsize=1)
def cloud_regions() -> Mapping[tuple[str, str], CloudRegion]:
    """Every shipped region keyed by ``(provider, region)``, lower case."""
    path = resources.files("otel_carbon").joinpath("data", "cloud_regions.csv")
    regions: dict[tuple[str, str], CloudRegion] = {}
    with path.open("r", encoding="utf-8", newline="") as fh:  # type: ignore[call-overload]  # a real file: typeshed's Traversable lacks newline=
        for row in csv.DictReader(fh):
            region = CloudRegion(
                provider=row["provider"].lower(),
                region=row["region"].lower(),
                location=row["location"],
                country=row["country"].upper(),
                zone=row["electricitymaps_zone"] or row["country"].upper(),
                watttime_region=row["watttime_region"] or None,
                latitude=_optional_float(row["latitude"]),
                longitude=_optional_float(row["longitude"]),
                g_per_kwh=_optional_float(row["g_co2e_per_kwh"]),
            )
            regions[(region.provider, region.region)] = region
    return regions


def region_info(provider: str, region: str) -> CloudRegion | None:
    """The shipped entry for a cloud region, or ``None`` when it is not in the table."""
    key = _PROVIDER_ALIASES.get(provider.strip().lower(), provider.strip().lower())
    return cloud_regions().get((key, region.strip().lower()))


def zone_for_region(provider: str, region: str) -> str | None:
    """Grid zone of ``provider``'s ``region`` (e.g. ``("aws", "eu-west-1")`` → ``"IE"``)."""
    info = region_info(provider, region)
    return info.zone if info else None


def parse_region(value: str) -> tuple[str, str]:
    """Split ``PROVIDER:REGION`` (the CLI's ``--region`` form); raises ``ValueError``."""
    provider, sep, region = value.partition(":")
    if not sep or not provider or not region:
        raise ValueError(f"expected PROVIDER:REGION such as aws:eu-west-1, got {value!r}")
    return provider, region


def location_of(zone: str | None = None, region: str | None = None) -> Location:
    """The :class:`Location` of a grid zone key, or of a ``PROVIDER:REGION`` cloud region.

    Exactly one of the two is given.  Raises ``ValueError`` (one line) for an unknown zone
    (:func:`~otel_carbon.intensity.static.check_zone`) or an unknown region.
    """
    from otel_carbon.intensity.static import check_zone  # static reads this module's region table

    if (zone is None) == (region is None):
        raise ValueError("give exactly one of a zone or a PROVIDER:REGION cloud region")
    if zone is not None:
        return Location(check_zone(zone))
    provider, name = parse_region(region or "")
    info = region_info(provider, name)
    if info is None:
        raise ValueError(f"unknown cloud region {region!r}")
    return Location(info.zone.upper(), (info.provider, info.region))


def regions_in_zone(zone: str, provider: str | None = None) -> list[CloudRegion]:
    """Shipped cloud regions whose grid zone is ``zone`` (optionally of one cloud provider)."""
    key = zone.strip().upper()
    wanted = _PROVIDER_ALIASES.get(provider.lower(), provider.lower()) if provider else None
    return [
        info
        for info in cloud_regions().values()
        if info.zone.upper() == key and (wanted is None or info.provider == wanted)
    ]
