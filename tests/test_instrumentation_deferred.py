"""Instrumentors patch an SDK when the application imports it, not before (fresh interpreters)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "VLLM_LOGGING_LEVEL": "ERROR"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# (instrumentor, the SDK module that must stay unimported, one function it wraps once that is imported)
INSTRUMENTORS = [
    ("openai:OpenAIInstrumentor", "openai", "openai.resources.chat.completions:Completions.create"),
    ("anthropic:AnthropicInstrumentor", "anthropic", "anthropic.resources.messages:Messages.stream"),
    ("google_genai:GoogleGenAIInstrumentor", "google.genai", "google.genai.models:AsyncModels.generate_content_stream"),
    ("cohere:CohereInstrumentor", "cohere", "cohere.v2.client:AsyncV2Client.chat_stream"),
    ("mistralai:MistralAIInstrumentor", "mistralai", "mistralai.client.chat:Chat.complete"),
    ("bedrock:BedrockInstrumentor", "botocore", "botocore.client:BaseClient._make_api_call"),
    ("litellm:LiteLLMInstrumentor", "litellm", "litellm:completion"),
    ("ollama:OllamaInstrumentor", "ollama", "ollama:chat"),
    ("transformers:TransformersInstrumentor", "transformers", "transformers.generation.utils:GenerationMixin.generate"),
    ("vllm:VLLMInstrumentor", "vllm", "vllm.entrypoints.llm:LLM.generate"),
    ("llama_cpp:LlamaCppInstrumentor", "llama_cpp", "llama_cpp.llama:Llama.create_completion"),
]


#: What importing a target module needs besides its own distribution.
ALSO_NEEDS = {"transformers": "torch"}


def installed(sdk: str) -> bool:
    needs = (sdk.split(".")[0], ALSO_NEEDS.get(sdk, sdk).split(".")[0])
    return all(importlib.util.find_spec(name) is not None for name in needs)


@pytest.mark.parametrize("instrumentor, sdk, target", [
    pytest.param(*row, marks=pytest.mark.skipif(not installed(row[1]), reason=f"{row[1]} not installed"))
    for row in INSTRUMENTORS
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
