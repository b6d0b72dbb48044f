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

from otel_carbon.demo_server import COMPLETION_TOKENS, PROMPT_TOKENS

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".peers"
APP = Path(__file__).parent / "apps" / "peer_app.py"

if not PEERS.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(".peers/ is missing: .ci/run must install the peer instrumentations")
    pytest.skip("peer instrumentations not installed (.peers/, see .ci/run)", allow_module_level=True)


@pytest.mark.parametrize("peer", ["official", "openllmetry"])
def test_peer_spans_are_enriched(peer):
    env = dict(os.environ, PYTHONPATH=str(PEERS))
    result = subprocess.run([sys.executable, str(APP), peer], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    spans = [s for s in json.loads(result.stdout.strip().splitlines()[-1]) if "sci.carbon" in s]
    assert len(spans) == 1, result.stdout
    attrs = spans[0]
    tokens_in = attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
    tokens_out = attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
    assert (tokens_in, tokens_out) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert attrs["sci.energy"] > 0 and attrs["sci.carbon"] > 0
    assert attrs["sci.model.match"] == "exact"
