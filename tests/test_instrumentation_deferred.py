"""Instrumentors patch an SDK when the application imports it, not before (fresh interpreters)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("instrumentor, sdk, target", [
    ("openai:OpenAIInstrumentor", "openai", "openai.resources.chat.completions:Completions.create"),
    ("anthropic:AnthropicInstrumentor", "anthropic", "anthropic.resources.messages:Messages.stream"),
    ("ollama:OllamaInstrumentor", "ollama", "ollama:chat"),
])
def test_instrumenting_imports_nothing_and_the_import_is_patched(instrumentor, sdk, target):
    module, cls = instrumentor.split(":")
    target_module, attribute = target.split(":")
    out = run(f"""
        import importlib, sys, wrapt
        from otel_carbon.instrumentations.{module} import {cls}
        instrumentor = {cls}()
        instrumentor.instrument()
        print("{sdk}" in sys.modules)
        obj = importlib.import_module("{target_module}")
        for part in "{attribute}".split("."):
            obj = getattr(obj, part)
        print(isinstance(obj, (wrapt.FunctionWrapper, wrapt.BoundFunctionWrapper)))
        instrumentor.uninstrument()
        obj = importlib.import_module("{target_module}")
        for part in "{attribute}".split("."):
            obj = getattr(obj, part)
        print(isinstance(obj, (wrapt.FunctionWrapper, wrapt.BoundFunctionWrapper)))
    """)
    assert out.split() == ["False", "True", "False"]


def test_uninstrumenting_before_the_import_leaves_the_sdk_alone():
    out = run("""
        import wrapt
        from otel_carbon.instrumentations.openai import OpenAIInstrumentor
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument()
        instrumentor.uninstrument()
        from openai.resources.chat.completions import Completions
        print(isinstance(Completions.create, (wrapt.FunctionWrapper, wrapt.BoundFunctionWrapper)))
    """)
    assert out == "False"
