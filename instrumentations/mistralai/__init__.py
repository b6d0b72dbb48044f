"""Mistral AI instrumentation: ``chat.complete`` / ``chat.stream``, ``fim.complete`` / ``fim.stream``
and ``embeddings.create``, each with its ``_async`` twin (``mistralai`` ≥ 2, ``from mistralai.client import Mistral``).

The endpoint is the client's server URL (``server_url=`` or the named
server); a loopback server is local inference, measured by the energy meter.
Streams are proxied: the span ends when the stream is drained, closed or
left.  Input tokens include the cached prefix
(``prompt_tokens_details.cached_tokens``, also recorded on its own).

    from otel_carbon.instrumentations.mistralai import MistralAIInstrumentor
    MistralAIInstrumentor().instrument()

The SDK's own opt-in tracing (``MISTRAL_SDK_TELEMETRY``) makes a second GenAI
span for the same call; leave it off when this instrumentation is on.
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
from otel_carbon.instrumentations.mistralai.extract import CompletionEvents
from otel_carbon.instrumentations.mistralai.package import _instruments
from otel_carbon.instrumentations.mistralai.patch import METHODS, start_for


class MistralAIInstrumentor(DeferredInstrumentor):
    """Spans for ``mistralai`` client calls, with the GenAI attributes our carbon processor reads."""

    _module = "mistralai.client"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        for module, cls, method, operation, stream, finish in METHODS:
            factory = async_wrapper if method.endswith("_async") else sync_wrapper
            wrapper = factory(tracer, start_for(operation, stream), finish, CompletionEvents)
            wrap_function_wrapper(module, f"{cls}.{method}", wrapper)

    def _unpatch(self) -> None:
        for module, cls, method, *_ in METHODS:
            unwrap(getattr(importlib.import_module(module), cls), method)
