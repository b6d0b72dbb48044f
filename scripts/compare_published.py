"""Compare otel-carbon's estimates with published per-prompt energy figures.

Reads ``tests/data/published_prompt_energy.csv`` (each row: model, tokens,
boundary, published Wh) and prints a Markdown table of our estimate (mid and
range) at the same token counts and boundary, with the ratio ours / published.

    python scripts/compare_published.py
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.estimate.inference import TokenUsage
from otel_carbon.footprint import compute_footprint
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.sci import Boundary

FIGURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "published_prompt_energy.csv"


@dataclass(frozen=True)
class Comparison:
    id: str
    source: str
    model: str
    input_tokens: int
    output_tokens: int
    boundary: str
    published_wh: float
    ours_wh: float
    ours_low_wh: float
    ours_high_wh: float

    @property
    def ratio(self) -> float:
        return self.ours_wh / self.published_wh


def comparisons(path: Path = FIGURES) -> list[Comparison]:
    """Our estimate for every published figure, at its token counts and boundary."""
    catalogue = Catalogue.default()
    intensity = IntensityCache()
    rows = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            settings = CarbonSettings(boundary=Boundary(row["boundary"]))
            footprint = compute_footprint(
                provider=row["model_provider"],
                model=row["model"],
                usage=TokenUsage(input=int(row["input_tokens"]), output=int(row["output_tokens"])),
                zone="US",
                settings=settings,
                catalogue=catalogue,
                intensity=intensity,
            )
            energy = footprint.energy_j
            rows.append(
                Comparison(
                    row["id"], row["source"], row["model"], int(row["input_tokens"]), int(row["output_tokens"]),
                    row["boundary"], float(row["energy_wh"]), energy.mid / 3600, energy.low / 3600, energy.high / 3600,
                )
            )
    return rows


def markdown(rows: list[Comparison]) -> str:
    lines = [
        "| figure | source | model | in / out tokens | boundary | published Wh | ours Wh (low – high) | ours / published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.id} | {r.source} | {r.model} | {r.input_tokens} / {r.output_tokens} | {r.boundary} | "
            f"{r.published_wh:.2f} | {r.ours_wh:.2f} ({r.ours_low_wh:.2f} – {r.ours_high_wh:.2f}) | {r.ratio:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(comparisons()))
