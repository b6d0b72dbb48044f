"""Run records, the per-unit diff and its attribution, the statistical test, and ``otel-carbon diff``."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_carbon import semconv as sc
from otel_carbon.cli import main
from otel_carbon.gates.diff import compare
from otel_carbon.gates.records import CallRecord, GateInputError, TestRecord, call_record, load_runs, write_run
from otel_carbon.gates.stats import mann_whitney_greater, smallest_p

J_PER_KWH = 3.6e6


def call(model: str = "gpt-4o-mini", zone: str = "US", intensity: float = 369.5, tokens_in: int = 1000,
         tokens_out: int = 64, cached: int = 0, j_per_token: float = 0.05, method: str = "estimated",
         embodied: float = 0.0001) -> CallRecord:
    """A call whose figures obey the SCI arithmetic: carbon = E·I/3.6e6 + embodied."""
    energy = j_per_token * (tokens_in - cached * 0.9 + 5 * tokens_out)
    return CallRecord("openai", model, zone, intensity, method, "comprehensive", tokens_in, tokens_out, cached,
                      energy, energy * intensity / J_PER_KWH + embodied, embodied, 0.0001)


def run(*tests: tuple[str, list[CallRecord]]) -> list[TestRecord]:
    return [TestRecord(nodeid, "passed", calls) for nodeid, calls in tests]


BASE = run(("t::a", [call()]), ("t::b", [call(), call(cached=768)]), ("t::plain", []))


# --- records ---------------------------------------------------------------------------------


def test_call_record_reads_enriched_attributes_and_skips_uncounted_spans():
    attributes = {sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                  sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18", sc.GEN_AI_USAGE_INPUT_TOKENS: 100,
                  sc.GEN_AI_USAGE_OUTPUT_TOKENS: 10, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 64,
                  sc.SCI_ENERGY: 2.5, sc.SCI_CARBON: 0.0003, sc.SCI_EMBODIED: 0.00001, sc.SCI_INTENSITY: 369.5,
                  sc.SCI_INTENSITY_ZONE: "US", sc.SCI_ENERGY_METHOD: "estimated", sc.SCI_BOUNDARY: "comprehensive",
                  sc.GEN_AI_USAGE_COST: 0.00002}
    record = call_record(attributes)
    assert record is not None
    assert (record.model, record.tokens, record.cached_input_tokens, record.energy_j) == ("gpt-4o-mini", 110, 64, 2.5)
    assert call_record({**attributes, sc.SCI_COUNTED: False}) is None
    assert call_record({**attributes, sc.SCI_COUNTED: True}) == record
    assert call_record({sc.GEN_AI_REQUEST_MODEL: "x"}) is None  # not enriched
    assert call_record({**attributes, sc.SCI_CARBON: float("nan")}) is None


def test_run_file_round_trip_and_folder_of_repeated_runs(tmp_path: Path):
    (tmp_path / "runs").mkdir()
    write_run(tmp_path / "runs" / "1.json", BASE)
    write_run(tmp_path / "runs" / "2.json", BASE)
    assert load_runs(tmp_path / "runs" / "1.json") == BASE
    merged = load_runs(tmp_path / "runs")
    assert len(merged) == 2 * len(BASE) and [t.nodeid for t in merged].count("t::a") == 2
    document = json.loads((tmp_path / "runs" / "1.json").read_text())
    assert document["totals"]["calls"] == 3 and document["schema"] == "otel-carbon/carbon-run"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    ("[]", "not an otel-carbon run file"),
    ('{"schema": "otel-carbon/carbon-run", "version": 9, "tests": []}', "version 9"),
    ('{"schema": "otel-carbon/carbon-run", "version": 1, "tests": {}}', "'tests' must be a list"),
    ('{"schema": "otel-carbon/carbon-run", "version": 1, "tests": [{"nodeid": "a"}]}', "malformed"),
])
def test_unusable_run_files_raise_one_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(GateInputError, match=message) as raised:
        load_runs(path)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("field,value", [("carbon_g", -1.0), ("energy_j", float("nan")), ("input_tokens", 1.5),
                                         ("model", 3), ("cost_usd", "free")])
def test_bad_call_values_are_rejected(tmp_path: Path, field: str, value: object):
    write_run(tmp_path / "run.json", BASE)
    document = json.loads((tmp_path / "run.json").read_text())
    document["tests"][0]["calls"][0][field] = value
    (tmp_path / "run.json").write_text(json.dumps(document))
    with pytest.raises(GateInputError, match="malformed"):
        load_runs(tmp_path / "run.json")


# --- diff ----------------------------------------------------------------------------------------


def test_identical_runs_are_ok_and_more_traffic_is_not_a_regression():
    report = compare(BASE, BASE)
    assert {u.status for u in report.units} == {"ok"} and not report.regressions
    twice = compare(BASE, BASE + BASE + run(("t::new", [call(), call()])))
    assert not twice.regressions
    assert [(u.key, u.status) for u in twice.units if u.status != "ok"] == [("t::new", "added")]


def test_threshold_is_exact_for_estimated_energy():
    slightly = run(("t::a", [call(tokens_out=66)]), ("t::b", [call(), call(cached=768)]))
    change = compare(BASE, slightly, max_increase_pct=0).units[0].change_pct
    assert change is not None and 0 < change < 10
    assert compare(BASE, slightly, max_increase_pct=change * 1.01).regressions == []
    assert [u.key for u in compare(BASE, slightly, max_increase_pct=change * 0.99).regressions] == ["t::a"]


@pytest.mark.parametrize(("changed", "cause"), [
    ({"model": "gpt-4o", "j_per_token": 0.4}, "model"),
    ({"zone": "IN", "intensity": 713.4}, "zone"),
    ({"intensity": 500.0}, "intensity"),
    ({"tokens_in": 3000}, "tokens_in"),
    ({"tokens_out": 700}, "tokens_out"),
])
def test_each_cause_is_named_and_the_parts_add_up(changed: dict, cause: str):
    worse = run(("t::a", [call(**changed)]), ("t::b", [call(**changed), call(**{"cached": 768, **changed})]))
    report = compare(BASE, worse)
    for unit in report.regressions:
        assert unit.causes[0].name == cause, unit.headline()
        assert sum(c.delta_g for c in unit.causes) == pytest.approx(unit.candidate_g - unit.baseline_g)


def test_cache_defeated_and_more_calls_are_named():
    report = compare(BASE, run(("t::a", [call()]), ("t::b", [call(), call()])))
    (unit,) = [u for u in report.regressions if u.unit == "test"]
    assert unit.key == "t::b" and unit.causes[0].name == "cache" and "cached input 38% → 0%" in unit.causes[0].detail
    more = compare(run(("t::a", [call()])), run(("t::a", [call(), call(), call()])))
    assert [(u.key, u.causes[0].name) for u in more.regressions] == [("t::a", "calls")]
    assert [u.status for u in more.units if u.unit == "call"] == ["ok"]  # the same calls, three times


def test_a_test_that_starts_calling_a_model_regresses():
    report = compare(BASE, run(("t::a", [call()]), ("t::b", [call(), call(cached=768)]), ("t::plain", [call()])))
    (unit,) = [u for u in report.regressions if u.unit == "test"]
    assert (unit.key, unit.change_pct, unit.baseline_g) == ("t::plain", None, 0.0)


def test_bad_threshold_or_alpha_is_refused():
    with pytest.raises(ValueError):
        compare(BASE, BASE, max_increase_pct=-1)
    with pytest.raises(ValueError):
        compare(BASE, BASE, alpha=1.0)


def _measured_runs(rng: random.Random, executions: int, scale: float) -> list[TestRecord]:
    return [TestRecord("t::local", "passed", [
        call(method="measured", j_per_token=0.05 * scale * rng.uniform(0.85, 1.15))])
            for _ in range(executions)]


def test_measured_energy_uses_mann_whitney_on_repeated_runs():
    rng = random.Random(7)
    base = _measured_runs(rng, 8, 1.0)
    noisy = compare(base, _measured_runs(rng, 8, 1.0), max_increase_pct=5)
    assert not noisy.regressions and noisy.units[0].comparison == "mann-whitney"
    heavier = compare(base, _measured_runs(rng, 8, 1.6), max_increase_pct=5)
    (unit,) = [u for u in heavier.regressions if u.unit == "test"]
    assert unit.p_value is not None and unit.p_value < 0.05
    too_few = compare(base[:2], _measured_runs(rng, 1, 1.6), max_increase_pct=5)
    assert {u.status for u in too_few.units} == {"inconclusive"}


def test_mann_whitney_exact_and_approximate_agree_with_known_values():
    assert mann_whitney_greater([4, 5, 6], [1, 2, 3]) == pytest.approx(1 / 20)
    assert smallest_p(3, 3) == pytest.approx(1 / 20)
    assert mann_whitney_greater([1, 2, 3], [4, 5, 6]) == pytest.approx(1.0)
    big = mann_whitney_greater([float(i) + 0.5 for i in range(30)], [float(i) for i in range(30)])
    assert 0.3 < big < 0.6  # barely shifted: not significant


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(50, 900), st.integers(10, 5000), st.integers(1, 2000), st.integers(1, 4))
def test_attribution_always_adds_up(j_per_token, intensity, tokens_in, tokens_out, calls):
    worse = run(("t::a", [call(j_per_token=j_per_token, intensity=intensity, tokens_in=tokens_in,
                               tokens_out=tokens_out)] * calls))
    report = compare(run(("t::a", [call()])), worse, max_increase_pct=0)
    for unit in report.units:
        if unit.causes:
            total = sum(c.delta_g for c in unit.causes)
            assert math.isclose(total, unit.candidate_g - unit.baseline_g, rel_tol=1e-6, abs_tol=1e-12)


# --- otel-carbon diff ------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    worse = [replace(t, calls=[replace(c, model="gpt-4o", energy_j=c.energy_j * 8, carbon_g=c.carbon_g * 8)
                               for c in t.calls]) for t in BASE]
    write_run(tmp_path / "base.json", BASE)
    write_run(tmp_path / "same.json", BASE)
    write_run(tmp_path / "worse.json", worse)
    return {p.stem: p for p in tmp_path.glob("*.json")}


def test_diff_exit_codes_and_text(files, capsys):
    assert main(["diff", str(files["base"]), str(files["same"])]) == 0
    assert "ok: 3 units within +5%" in capsys.readouterr().out
    assert main(["diff", str(files["base"]), str(files["worse"]), "--max-increase", "10"]) == 1
    out = capsys.readouterr().out
    assert "t::a [test] +700.0%" in out and "model gpt-4o-mini → gpt-4o" in out
    assert "carbon regression: 3 of 3 units above +10%" in out


def test_diff_json_contract(files, capsys):
    assert main(["diff", str(files["base"]), str(files["worse"]), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["regression"] is True and report["max_increase_pct"] == 5.0
    unit = report["units"][0]
    assert {"unit", "key", "status", "baseline_g", "candidate_g", "change_pct", "comparison", "p_value", "samples",
            "causes"} <= set(unit)
    assert unit["causes"][0]["name"] == "model"


@pytest.mark.parametrize("argv_tail", [["missing.json", "same.json"], ["base.json", "corrupt.json"],
                                       ["base.json", "same.json", "--max-increase", "-3"],
                                       ["base.json", "same.json", "--max-increase", "nan"]])
def test_diff_bad_input_exits_2_with_one_line_and_nothing_on_stdout(files, capsys, argv_tail):
    folder = files["base"].parent
    (folder / "corrupt.json").write_text('{"schema": "otel-carbon/carbon-run", "version": 1, "tests": [1]}')
    argv = ["diff", *[str(folder / a) if a.endswith(".json") else a for a in argv_tail]]
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse refuses the value itself
        code = exited.code
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
