"""Carbon records of a test run: per call and per test, as read from enriched spans and stored as JSON.

A *call* is one counted GenAI call; its figures come from the ``sci.*`` and
``gen_ai.*`` attributes enrichment wrote on its span (never recomputed here).
A *test record* is one execution of one test and the calls it made; a run file
holds one record per executed test.  Several files of the same suite (repeated
runs) are merged by concatenation, so a test may have several executions:
these are the repeated measurements :mod:`otel_carbon.gates.diff` compares.

Units: energy in J, carbon in g CO2e, intensity in gCO2e/kWh, cost in USD.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from otel_carbon import semconv as sc

#: The ``schema`` value of a run file; ``version`` changes when a field changes meaning.
SCHEMA = "otel-carbon/carbon-run"
VERSION = 1

# Request model first: the response model carries a dated suffix that may change between runs.
_MODEL_KEYS = (sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL)


class GateInputError(ValueError):
    """A run file that cannot be used: unreadable, not JSON, or not of this schema (message: one line)."""


@dataclass(frozen=True)
class CallRecord:
    """One counted GenAI call (J, g CO2e, gCO2e/kWh, USD; ``cost_usd`` is ``None`` when unknown)."""

    provider: str
    model: str
    zone: str
    intensity_g_per_kwh: float
    method: str
    boundary: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    energy_j: float
    carbon_g: float
    embodied_g: float
    cost_usd: float | None = None

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass
class TestRecord:
    """One execution of one test: its pytest node id, outcome, and the calls it made."""

    __test__ = False  # a data class, not a test class for pytest to collect

    nodeid: str
    outcome: str
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def carbon_g(self) -> float:
        return sum(call.carbon_g for call in self.calls)

    @property
    def energy_j(self) -> float:
        return sum(call.energy_j for call in self.calls)


def call_record(attributes: Mapping[str, Any]) -> CallRecord | None:
    """The call a span describes, or ``None`` for a span that is not a counted, enriched GenAI call.

    A span whose ``sci.counted`` is ``False`` (a second span of an already counted call) is skipped.
    """
    if attributes.get(sc.SCI_COUNTED) is False:
        return None
    carbon = _number(attributes.get(sc.SCI_CARBON))
    energy = _number(attributes.get(sc.SCI_ENERGY))
    if carbon is None or energy is None:
        return None
    return CallRecord(
        provider=str(sc.first_present(attributes, sc.PROVIDER_KEYS) or "unknown"),
        model=str(sc.first_present(attributes, _MODEL_KEYS) or "unknown"),
        zone=str(attributes.get(sc.SCI_INTENSITY_ZONE) or "unknown"),
        intensity_g_per_kwh=_number(attributes.get(sc.SCI_INTENSITY)) or 0.0,
        method=str(attributes.get(sc.SCI_ENERGY_METHOD) or "estimated"),
        boundary=str(attributes.get(sc.SCI_BOUNDARY) or "unknown"),
        input_tokens=_count(sc.first_present(attributes, sc.INPUT_TOKEN_KEYS)),
        output_tokens=_count(sc.first_present(attributes, sc.OUTPUT_TOKEN_KEYS)),
        cached_input_tokens=_count(sc.first_present(attributes, sc.CACHE_READ_KEYS)),
        energy_j=energy,
        carbon_g=carbon,
        embodied_g=_number(attributes.get(sc.SCI_EMBODIED)) or 0.0,
        cost_usd=_number(attributes.get(sc.GEN_AI_USAGE_COST)),
    )


def to_document(tests: Iterable[TestRecord]) -> dict[str, Any]:
    """The JSON document of a run: ``schema``, ``version``, ``tests`` (one per execution) and ``totals``."""
    records = list(tests)
    calls = [call for test in records for call in test.calls]
    costs = [call.cost_usd for call in calls if call.cost_usd is not None]
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "tests": [
            {"nodeid": t.nodeid, "outcome": t.outcome, "calls": [asdict(c) for c in t.calls]} for t in records
        ],
        "totals": {
            "tests": len(records),
            "calls": len(calls),
            "energy_j": sum(c.energy_j for c in calls),
            "carbon_g": sum(c.carbon_g for c in calls),
            "cost_usd": sum(costs) if costs else None,
            "tokens": sum(c.tokens for c in calls),
        },
    }


def write_run(path: str | Path, tests: Iterable[TestRecord]) -> None:
    """Write a run file (UTF-8 JSON) to ``path``, replacing it whole."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(to_document(tests), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(target)


def load_runs(path: str | Path) -> list[TestRecord]:
    """The test executions in a run file, or in every ``*.json`` file of a folder (repeated runs).

    Raises :class:`GateInputError` (one line, naming the file) for anything unusable.
    """
    source = Path(path)
    if source.is_dir():
        files = sorted(source.glob("*.json"))
        if not files:
            raise GateInputError(f"{source}: folder holds no *.json run file")
        return [record for file in files for record in _load_file(file)]
    return _load_file(source)


def _load_file(path: Path) -> list[TestRecord]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GateInputError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    except ValueError as exc:
        raise GateInputError(f"{path}: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise GateInputError(f"{path}: not an otel-carbon run file (schema must be {SCHEMA!r})")
    if document.get("version") != VERSION:
        raise GateInputError(f"{path}: run file version {document.get('version')!r}, expected {VERSION}")
    tests = document.get("tests")
    if not isinstance(tests, list):
        raise GateInputError(f"{path}: 'tests' must be a list")
    try:
        return [_test(entry) for entry in tests]
    except (KeyError, TypeError, ValueError) as exc:
        raise GateInputError(f"{path}: malformed test record ({exc})") from None


def _test(entry: Any) -> TestRecord:
    if not isinstance(entry, dict):
        raise TypeError("a test record must be an object")
    nodeid, outcome, calls = entry["nodeid"], entry["outcome"], entry["calls"]
    if not isinstance(nodeid, str) or not nodeid or not isinstance(outcome, str) or not isinstance(calls, list):
        raise TypeError("nodeid and outcome must be text, calls a list")
    return TestRecord(nodeid, outcome, [_call(call) for call in calls])


def _call(entry: Any) -> CallRecord:
    if not isinstance(entry, dict):
        raise TypeError("a call record must be an object")
    text = {name: entry[name] for name in ("provider", "model", "zone", "method", "boundary")}
    if not all(isinstance(value, str) for value in text.values()):
        raise TypeError("provider, model, zone, method and boundary must be text")
    counts = {name: entry[name] for name in ("input_tokens", "output_tokens", "cached_input_tokens")}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()):
        raise ValueError("token counts must be whole numbers >= 0")
    figures = {name: entry[name] for name in ("intensity_g_per_kwh", "energy_j", "carbon_g", "embodied_g")}
    if any(_number(value) is None for value in figures.values()):
        raise ValueError("intensity, energy, carbon and embodied must be finite numbers >= 0")
    cost = entry.get("cost_usd")
    if cost is not None and _number(cost) is None:
        raise ValueError("cost_usd must be a finite number >= 0 or null")
    return CallRecord(
        provider=text["provider"], model=text["model"], zone=text["zone"],
        intensity_g_per_kwh=float(figures["intensity_g_per_kwh"]), method=text["method"], boundary=text["boundary"],
        input_tokens=counts["input_tokens"], output_tokens=counts["output_tokens"],
        cached_input_tokens=counts["cached_input_tokens"], energy_j=float(figures["energy_j"]),
        carbon_g=float(figures["carbon_g"]), embodied_g=float(figures["embodied_g"]),
        cost_usd=None if cost is None else float(cost),
    )


def _number(value: Any) -> float | None:
    """A finite, non-negative number, else ``None`` (booleans and text are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _count(value: Any) -> int:
    """A token count; anything that is not a whole number >= 0 reads as 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return max(int(value), 0)
