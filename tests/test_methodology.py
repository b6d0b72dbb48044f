"""Our estimates stay within a factor of 2 of the published per-prompt figures (docs/methodology.md)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "compare_published.py"
spec = importlib.util.spec_from_file_location("compare_published", SCRIPT)
compare = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = compare
spec.loader.exec_module(compare)

ROWS = compare.comparisons()


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_within_a_factor_of_two(row):
    assert 0.5 <= row.ratio <= 2.0, f"{row.id}: ours {row.ours_wh:.3f} Wh vs published {row.published_wh} Wh"


def test_published_figure_lies_inside_or_near_our_range():
    inside = [r for r in ROWS if r.ours_low_wh <= r.published_wh <= r.ours_high_wh]
    assert len(inside) >= len(ROWS) * 0.8


def test_methodology_doc_shows_the_current_table():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "methodology.md").read_text()
    assert compare.markdown(ROWS) in doc, "regenerate with: python scripts/compare_published.py"
