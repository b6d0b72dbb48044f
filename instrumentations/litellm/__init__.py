"""LiteLLM instrumentation: ``litellm.completion`` / ``acompletion`` (plain and ``stream=True``)
and ``litellm.embedding`` / ``aembedding``.

    from otel_carbon.instrumentations.litellm import LiteLLMInstrumentor
    LiteLLMInstrumentor().instrument()

    litellm.completion(model="anthropic/claude-sonnet-4-5", messages=[...])

The provider is LiteLLM's (the ``provider/`` prefix, ``custom_llm_provider=``
or its model map), named as the GenAI conventions name it; ``api_base=`` is
the endpoint (a loopback one is local inference, measured by the energy
meter).  LiteLLM's own price of the call becomes ``gen_ai.usage.cost``.
Streams are proxied and end their span when drained, closed or left; they
report usage only with ``stream_options={"include_usage": True}``.

LiteLLM calls provider SDKs (``openai``, …) underneath: with those SDKs
instrumented too, the nested call makes no second span, so each call's
carbon is counted once.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer
from wrapt import wrap_function_wrapper

from otel_carbon.instrumentations._shared.deferred import DeferredInstrumentor
from otel_carbon.instrumentations._shared.wrappers import async_wrapper, sync_wrapper
from otel_carbon.instrumentations.litellm.extract import CompletionChunks, ProviderResolver
from otel_carbon.instrumentations.litellm.package import _instruments
from otel_carbon.instrumentations.litellm.patch import FUNCTIONS, start_for


class LiteLLMInstrumentor(DeferredInstrumentor):
    """Spans for ``litellm`` calls, with the GenAI attributes our carbon processor reads."""

    _module = "litellm"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        resolve = ProviderResolver(importlib.import_module(self._module))
        for name, operation, is_async, finish in FUNCTIONS:
            factory = async_wrapper if is_async else sync_wrapper
            wrap_function_wrapper(self._module, name, factory(tracer, start_for(operation, resolve), finish, CompletionChunks))

    def _unpatch(self) -> None:
        module = importlib.import_module(self._module)
        for name, *_ in FUNCTIONS:
            unwrap(module, name)
