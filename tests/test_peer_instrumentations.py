"""Our processor enriches the spans of peer GenAI instrumentations (official genai-openai, OpenLLMetry).

The peers live in ``.peers/`` (installed by ``.ci/run`` with ``pip install --target``), outside the
project environment, because they register the same ``openai`` entry point as our instrumentor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_carbon.cli.demo_server import COMPLETION_TOKENS, PROMPT_TOKENS

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".peers"
APP = Path(__file__).parent / "apps" / "peer_app.py"

if not PEERS.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(".peers/ is missing: .ci/run must install the peer instrumentations")
    pytest.skip("peer instrumentations not installed (.peers/, see .ci/run)", allow_module_level=True)


def run_call(instrumentations: str) -> dict:
    """One OpenAI call under ``instrumentations`` (applied in order: the last is outermost)."""
    env = dict(os.environ, PYTHONPATH=str(PEERS))
    result = subprocess.run([sys.executable, str(APP), instrumentations], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("peer", ["official", "openllmetry"])
def test_peer_spans_are_enriched(peer):
    out = run_call(peer)
    spans = [s for s in out["spans"] if "sci.carbon" in s]
    assert len(spans) == 1 and out["requests"] == 1, out
    attrs = spans[0]
    tokens_in = attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
    tokens_out = attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
    assert (tokens_in, tokens_out) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert attrs["sci.energy"] > 0 and attrs["sci.carbon"] > 0
    assert attrs["sci.model.match"] == "exact"


@pytest.mark.parametrize("stack", [
    "ours,official", "official,ours", "ours,openllmetry", "openllmetry,ours",
    "official,openllmetry", "openllmetry,official", "ours,official,openllmetry",
])
def test_one_call_is_one_figure_whatever_instruments_it(stack):
    out = run_call(stack)
    genai = [s for s in out["spans"] if s.get("gen_ai.system") or s.get("gen_ai.provider.name")]
    assert len(genai) == len(stack.split(",")), out  # every instrumentation traced the call
    counted = [s for s in genai if s.get("sci.counted") is True]
    assert len(counted) == 1 and out["requests"] == 1, out
    for span in genai:
        if span is not counted[0]:
            assert span["sci.counted"] is False and span["sci.carbon.status"] == "duplicate"
            assert "sci.carbon" not in span  # a TraceQL sum of sci.carbon counts the call once
    if "ours" in stack:
        assert counted[0]["_scope"].startswith("otel_carbon.instrumentations")
