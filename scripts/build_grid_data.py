"""Rebuild ``otel_carbon/data/grid_intensity.csv`` from an OWID-derived country table.

Input: a JSON object keyed by ISO 3166-1 alpha-3 code whose values carry
``carbon_intensity`` (gCO2e/kWh, Our World in Data ``carbon_intensity_elec``,
itself from Ember), ``country_name`` and ``year`` — the shape of CodeCarbon's
``global_energy_mix.json`` (MIT), which redistributes the OWID values.  The
world average is computed from the same table, weighted by generation
(``total_TWh``).  Needs ``pycountry`` (build time only).

    python scripts/build_grid_data.py global_energy_mix.json > otel_carbon/data/grid_intensity.csv
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pycountry

SOURCE_KEY = "owid-ember-via-codecarbon-3.3.2"
MIN_YEAR = 2020


def rows(mix: dict[str, dict]) -> list[dict[str, object]]:
    out = []
    weighted = total = 0.0
    for iso3, entry in sorted(mix.items()):
        country = pycountry.countries.get(alpha_3=iso3)
        intensity = entry.get("carbon_intensity")
        if country is None or intensity in (None, "") or int(entry.get("year", 0)) < MIN_YEAR:
            continue
        out.append({"zone": country.alpha_2, "name": entry.get("country_name") or country.name,
                    "year": int(entry["year"]), "g_co2e_per_kwh": round(float(intensity), 1), "source": SOURCE_KEY})
        generation = float(entry.get("total_TWh") or 0.0)
        weighted += float(intensity) * generation
        total += generation
    out.sort(key=lambda r: str(r["zone"]))
    year = max(int(r["year"]) for r in out)  # type: ignore[call-overload]
    out.append({"zone": "WORLD", "name": "World (generation-weighted mean of the rows above)",
                "year": year, "g_co2e_per_kwh": round(weighted / total, 1), "source": SOURCE_KEY})
    return out


def main(path: str) -> None:
    mix = json.loads(Path(path).read_text(encoding="utf-8"))
    writer = csv.DictWriter(sys.stdout, fieldnames=["zone", "name", "year", "g_co2e_per_kwh", "source"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(mix))


if __name__ == "__main__":
    main(sys.argv[1])
