"""``pytest --carbon`` for real: a small app's own tests, the real openai SDK, a loopback server.

The seed's discipline — "build the regression test before you trust the metric":
a baseline run, then four planted worse designs (heavier model, dirtier zone,
prompt cache defeated, output length uncapped), each caught by the gate with its
cause named; and reruns of the unchanged baseline never flagged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from apps import support_bot
from wire.openai_chat import PromptCachingChat
from wire_server import WireServer

from otel_carbon.gates.records import load_runs

pytest_plugins = ["pytester"]

RERUNS = 20


@pytest.fixture
def app(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=support_bot.APP, conftest=support_bot.CONFTEST, test_app=support_bot.TESTS)
    return pytester


def run_app(pytester: pytest.Pytester, *args: str, **env: str) -> pytest.RunResult:
    """Run the app's tests in process with ``args``, a fresh (cold-cache) server, and only ``env`` as settings.

    Paths are passed as ``--option=PATH``: pytest takes a separate argument naming an existing
    file as a place to look for its rootdir, which would change the node ids.
    """
    with WireServer(PromptCachingChat().routes) as server, pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("OTEL_CARBON_", "APP_"))]:
            mp.delenv(name)
        mp.setenv("APP_LLM_PORT", str(server.server_address[1]))
        for name, value in env.items():
            mp.setenv(name, value)
        return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_inactive_without_the_flag(app):
    result = run_app(app)
    result.assert_outcomes(passed=3)
    assert "GenAI calls" not in result.stdout.str() and "=== otel-carbon ===" not in result.stdout.str()


def test_summary_and_records(app, tmp_path):
    out = tmp_path / "run.json"
    result = run_app(app, "--carbon", f"--carbon-json={out}")
    result.assert_outcomes(passed=3)
    text = result.stdout.str()
    assert "otel-carbon: 3 GenAI calls in 2 tests" in text
    assert "top tests by carbon:" in text and "gpt-4o-mini @ US" in text
    assert "tokens/Wh" in text
    document = json.loads(out.read_text())
    assert document["totals"]["calls"] == 3
    by_test = {t["nodeid"]: t for t in document["tests"]}
    assert set(by_test) == {"test_app.py::test_refund_question", "test_app.py::test_follow_up_conversation",
                            "test_app.py::test_policy_text_is_loaded"}
    assert by_test["test_app.py::test_policy_text_is_loaded"]["calls"] == []
    follow_up = by_test["test_app.py::test_follow_up_conversation"]["calls"]
    assert [c["model"] for c in follow_up] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert all(c["zone"] == "US" and c["method"] == "estimated" and c["output_tokens"] == 64 for c in follow_up)
    assert all(c["cached_input_tokens"] > 0 for c in follow_up)  # the system prompt was seen by the first test
    assert all(c["carbon_g"] > 0 and c["energy_j"] > 0 and c["cost_usd"] > 0 for c in follow_up)


@pytest.fixture
def baseline(app, tmp_path) -> Path:
    path = tmp_path / "baseline.json"
    run_app(app, f"--carbon-json={path}").assert_outcomes(passed=3)
    return path


PLANTED = [
    pytest.param({"APP_MODEL": "gpt-4o"}, "model", "gpt-4o-mini → gpt-4o", id="heavier-model"),
    pytest.param({"OTEL_CARBON_PROVIDER_ZONES": "openai=IN"}, "zone", "zone US", id="dirtier-zone"),
    pytest.param({"APP_CACHE_FRIENDLY": "0"}, "cache", "cached input", id="prompt-cache-defeated"),
    pytest.param({"APP_MAX_TOKENS": ""}, "tokens_out", "output tokens 64 → 700", id="output-uncapped"),
]


@pytest.mark.parametrize(("env", "cause", "detail"), PLANTED)
def test_planted_worse_design_is_caught_with_its_cause(app, baseline, tmp_path, env, cause, detail):
    candidate = tmp_path / "candidate.json"
    result = run_app(app, f"--carbon-baseline={baseline}", "--carbon-max-increase=5", f"--carbon-json={candidate}",
                     **env)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3)  # the app's tests pass: only the carbon gate fails the run
    text = result.stdout.str()
    assert "CARBON REGRESSION" in text
    assert "test_app.py::test_follow_up_conversation [test]" in text  # the test is named ...
    assert detail in text  # ... with the cause

    from otel_carbon.gates.diff import compare

    report = compare(load_runs(baseline), load_runs(candidate), max_increase_pct=5)
    follow_up = next(u for u in report.regressions if u.key == "test_app.py::test_follow_up_conversation")
    assert follow_up.comparison == "exact"
    assert follow_up.causes[0].name == cause  # the largest part of the change
    assert sum(c.delta_g for c in follow_up.causes) == pytest.approx(follow_up.candidate_g - follow_up.baseline_g)


def test_reruns_of_the_unchanged_baseline_are_never_flagged(app, baseline):
    for _ in range(RERUNS):
        result = run_app(app, f"--carbon-baseline={baseline}")
        assert result.ret == pytest.ExitCode.OK, result.stdout.str()
        assert "carbon gate passed" in result.stdout.str()


def test_a_missing_or_corrupt_baseline_or_output_folder_is_a_usage_error(app, tmp_path):
    result = run_app(app, f"--carbon-baseline={tmp_path / 'absent.json'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no such file" in result.stderr.str()
    result = run_app(app, f"--carbon-json={tmp_path / 'no' / 'such' / 'run.json'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "no such folder" in result.stderr.str()
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    result = run_app(app, f"--carbon-baseline={corrupt}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "not JSON" in result.stderr.str()
