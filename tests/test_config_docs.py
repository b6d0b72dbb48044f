"""The documented ``OTEL_CARBON_*`` variables are the declared settings, and every setting is documented.

The settings are declared once (``otel_carbon.config.CarbonSettings``); the tables in README.md and
docs/*.md must follow that declaration, not a copy of it.
"""

from __future__ import annotations

import re
from pathlib import Path

from otel_carbon.collector.config import ENV_PREFIX as COLLECTOR_PREFIX
from otel_carbon.config import environment_variables
from otel_carbon.instrumentations.openai.patch import INCLUDE_USAGE_ENV

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NAME = re.compile(r"OTEL_CARBON_[A-Z0-9_]*[A-Z0-9]")


def _documented_rows() -> set[str]:
    """Variables named in the first cell of a Markdown table row."""
    names: set[str] = set()
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            cells = line.split("|")
            if line.startswith("|") and len(cells) > 2:
                names.update(NAME.findall(cells[1]))
    return names


def test_every_setting_has_a_row_in_a_settings_table():
    missing = [name for name in environment_variables() if name not in _documented_rows()]
    assert not missing, f"settings without a documented row: {missing}"


def test_every_documented_variable_is_a_declared_one():
    known = set(environment_variables()) | {INCLUDE_USAGE_ENV}
    for page in PAGES:
        for match in NAME.finditer(page.read_text(encoding="utf-8")):
            name = match.group()
            if name.startswith(COLLECTOR_PREFIX) or match.string[match.end():match.end() + 2] in ("_*", "_<"):
                continue  # the gateway's own options (its tests check them), or a family such as OTEL_CARBON_ENERGY_*
            assert name in known, f"{page.name} names {name}, which is no setting"
