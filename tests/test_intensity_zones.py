"""The shipped cloud-region → grid-zone table (``data/cloud_regions.csv``) and the remote default zone."""

from __future__ import annotations

import csv
import re
from collections import Counter
from importlib import resources

import pytest
from intensity_support import LoopbackServer, Reply

from otel_carbon.config import CarbonSettings
from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.providers import Location, Secret, WattTime
from otel_carbon.intensity.static import StaticIntensity
from otel_carbon.intensity.zones import cloud_regions, region_info, regions_in_zone, zone_for_region

COLUMNS = [
    "provider",
    "region",
    "location",
    "country",
    "electricitymaps_zone",
    "watttime_region",
    "latitude",
    "longitude",
    "g_co2e_per_kwh",
    "source",
]
ZONE_KEY = re.compile(r"^[A-Z]{2}(-[A-Z0-9]+)*$")  # Electricity Maps zone keys: FR, US-MIDA-PJM, SE-SE3


def _rows() -> list[dict[str, str]]:
    path = resources.files("otel_carbon").joinpath("data", "cloud_regions.csv")
    with path.open("r", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_at_least_sixty_regions_across_the_three_clouds() -> None:
    counts = Counter(row["provider"] for row in _rows())
    assert sum(counts.values()) >= 60
    assert set(counts) == {"aws", "gcp", "azure"} and min(counts.values()) >= 15, counts


def test_no_duplicate_regions() -> None:
    keys = Counter((row["provider"].lower(), row["region"].lower()) for row in _rows())
    assert [key for key, n in keys.items() if n > 1] == []
    assert len(cloud_regions()) == len(keys)


def test_every_region_has_a_zone_the_static_table_resolves() -> None:
    static = StaticIntensity.shipped()
    for row in _rows():
        zone = row["electricitymaps_zone"]
        assert ZONE_KEY.match(zone), row
        assert zone.split("-")[0] == row["country"], row  # a zone lies in its region's country
        resolved = static.lookup(zone)
        assert resolved.zone != "WORLD" and zone.startswith(resolved.zone), (row, resolved)


def test_coordinates_factors_and_watttime_names_are_well_formed() -> None:
    rows = _rows()
    for row in rows:
        if row["latitude"] or row["longitude"]:
            assert -90 <= float(row["latitude"]) <= 90 and -180 <= float(row["longitude"]) <= 180, row
        if row["g_co2e_per_kwh"]:
            assert 0 <= float(row["g_co2e_per_kwh"]) <= 1500, row
        if row["watttime_region"]:
            assert re.fullmatch(r"[A-Z0-9_]+", row["watttime_region"]), row
        assert row["source"], row
    with_coordinates = sum(1 for row in rows if row["latitude"])
    assert with_coordinates >= 0.9 * len(rows)  # WattTime's region-from-loc needs them


@pytest.mark.parametrize(
    ("provider", "region", "zone"),
    [
        ("aws", "eu-west-1", "IE"),  # Dublin
        ("aws", "eu-central-1", "DE"),  # Frankfurt
        ("aws", "eu-west-2", "GB"),  # London
        ("aws", "eu-west-3", "FR"),  # Paris
        ("aws", "us-east-1", "US-MIDA-PJM"),  # Northern Virginia
        ("aws", "us-west-2", "US-NW-BPAT"),  # Oregon
        ("gcp", "europe-west1", "BE"),  # St. Ghislain
        ("gcp", "europe-north1", "FI"),  # Hamina
        ("gcp", "us-central1", "US-MIDW-MISO"),  # Council Bluffs, Iowa
        ("azure", "westeurope", "NL"),  # Netherlands
        ("azure", "northeurope", "IE"),  # Ireland
    ],
)
def test_well_known_regions(provider: str, region: str, zone: str) -> None:
    assert zone_for_region(provider, region) == zone
    assert any(info.region == region for info in regions_in_zone(zone, provider))


def test_otel_resource_provider_values_are_accepted() -> None:
    # cloud.provider values from the OTel conventions: aws, gcp, azure (and the alias google_cloud)
    assert region_info("google_cloud", "europe-west1") == region_info("gcp", "EUROPE-WEST1")


def test_remote_default_zone_is_documented_and_resolvable() -> None:
    settings = CarbonSettings.from_env({})
    assert settings.remote_zone == "US"
    assert StaticIntensity.shipped().lookup(settings.remote_zone).zone == "US"
    assert CarbonSettings.from_env({"OTEL_CARBON_REMOTE_ZONE": "SE"}).remote_zone == "SE"


def test_watttime_finds_a_region_for_a_cloud_region_without_one_through_region_from_loc() -> None:
    candidates = [info for info in cloud_regions().values() if not info.watttime_region and info.latitude is not None]
    # The region's own coordinates are asked for before any sibling region's WattTime name.
    if not candidates:
        pytest.skip("every shipped region already names its WattTime region")
    info = candidates[0]
    with LoopbackServer() as server:
        server.route(r"/login", Reply(body={"token": "t"}))
        answer = {"region": "TEST_REGION", "region_full_name": "Test", "signal_type": "co2_moer"}
        server.route(r"/v3/region-from-loc", Reply(body=answer))
        http = HttpClient(0.5)
        provider = WattTime(http, "u", Secret("p"), base_url=server.url)
        location = Location(info.zone, (info.provider, info.region))
        assert provider.serves(location)
        assert provider.region_for(location) == provider.region_for(location) == "TEST_REGION"
        http.close()
    calls = [seen for seen in server.requests if seen.path == "/v3/region-from-loc"]
    assert len(calls) == 1  # cached
    assert float(calls[0].query["latitude"][0]) == pytest.approx(info.latitude)
    assert float(calls[0].query["longitude"][0]) == pytest.approx(info.longitude)
