"""Ollama instrumentation: ``chat``, ``generate``, ``embed`` (and the deprecated ``embeddings``)
on ``ollama.Client`` and ``ollama.AsyncClient``, plain and ``stream=True``, and the module-level
``ollama.chat(...)`` functions.

A client pointed at a loopback host (the default ``http://127.0.0.1:11434``)
is local inference: the call runs inside an energy window of the process
meter, so the span carries measured energy.  Ollama's cloud models
(``…:cloud``, ``…-cloud``) are forwarded to ollama.com and estimated instead.
Tokens come from ``prompt_eval_count`` / ``eval_count`` (for a stream, its
final part).

    from otel_carbon.instrumentations.ollama import OllamaInstrumentor
    OllamaInstrumentor().instrument()
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
from otel_carbon.instrumentations.ollama.package import _instruments
from otel_carbon.instrumentations.ollama.patch import (
    CLASSES,
    MODULE,
    accumulator_for,
    methods_of,
    rebind_module_functions,
    restore_module_functions,
    start_for,
)


class OllamaInstrumentor(DeferredInstrumentor):
    """Spans for ``ollama`` client calls, with the GenAI attributes our carbon processor reads."""

    _module = "ollama"  # the package: its module-level functions exist once it has finished importing

    _rebound: dict[str, tuple[Any, Any]] = {}

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        module = importlib.import_module(MODULE)
        for name in CLASSES:
            cls = getattr(module, name)
            factory = async_wrapper if name.startswith("Async") else sync_wrapper
            for method, operation, finish in methods_of(cls):
                wrapper = factory(tracer, start_for(cls, method, operation), finish, accumulator_for(finish))
                wrap_function_wrapper(MODULE, f"{name}.{method}", wrapper)
        self._rebound = rebind_module_functions()

    def _unpatch(self) -> None:
        restore_module_functions(self._rebound)
        self._rebound = {}
        module = importlib.import_module(MODULE)
        for name in CLASSES:
            cls = getattr(module, name)
            for method, *_ in methods_of(cls):
                unwrap(cls, method)
