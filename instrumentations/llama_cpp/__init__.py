"""llama-cpp-python instrumentation: ``Llama`` completions, chat completions and embeddings, in process.

``create_completion`` (and ``Llama.__call__``, which calls it),
``create_chat_completion`` and ``create_embedding`` become spans of kind
INTERNAL — the inference runs in this process — with the GenAI attributes
(``gen_ai.provider.name = llama_cpp``, the GGUF model name, token counts)
and the energy the process meter measured while the call (or its stream)
ran, so the carbon processor reports measured energy.  A chat completion is
one span: the completion it runs inside is not traced again.

    from otel_carbon.instrumentations.llama_cpp import LlamaCppInstrumentor
    LlamaCppInstrumentor().instrument()
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import SpanKind, Tracer
from wrapt import wrap_function_wrapper

from otel_carbon.instrumentations._shared.deferred import DeferredInstrumentor
from otel_carbon.instrumentations._shared.wrappers import sync_wrapper
from otel_carbon.instrumentations.llama_cpp import extract
from otel_carbon.instrumentations.llama_cpp.package import _instruments
from otel_carbon.instrumentations.llama_cpp.patch import METHODS, MODULE, start_for


class LlamaCppInstrumentor(DeferredInstrumentor):
    """Spans with measured energy for in-process ``llama_cpp.Llama`` inference (patched when imported)."""

    _module = MODULE

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        for method, operation in METHODS:
            wrapper = sync_wrapper(tracer, start_for(operation), extract.completion_response,
                                   extract.StreamChunks, kind=SpanKind.INTERNAL)
            wrap_function_wrapper(MODULE, f"Llama.{method}", wrapper)

    def _unpatch(self) -> None:
        llama = importlib.import_module(MODULE).Llama
        for method, _ in METHODS:
            unwrap(llama, method)
