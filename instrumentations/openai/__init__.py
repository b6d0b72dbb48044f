"""OpenAI instrumentation: chat completions, the Responses API and embeddings; sync, async, streaming.

Works for OpenAI, Azure OpenAI and any OpenAI-compatible server reached through
``base_url`` (the provider is read from the host; a loopback host is local
inference, measured by the energy meter).  Streamed chat completions carry
usage only when the request asks for it; set
``OTEL_CARBON_OPENAI_INCLUDE_USAGE=true`` (or ``include_usage=True``) to have
the instrumentation add ``stream_options={"include_usage": True}`` itself.

    from otel_carbon.instrumentations.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()
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
from otel_carbon.instrumentations.openai.package import _instruments
from otel_carbon.instrumentations.openai.patch import (
    METHODS,
    include_usage_requested,
    start_for,
    through_raw_response,
    with_usage_option,
)


class OpenAIInstrumentor(DeferredInstrumentor):
    """Spans for ``openai`` client calls, with the GenAI attributes our carbon processor reads."""

    _module = "openai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        inject = bool(kwargs.get("include_usage", include_usage_requested()))
        for module, cls, operation, finish, chunks, may_inject in METHODS:
            factory = async_wrapper if cls.startswith("Async") else sync_wrapper
            prepare = with_usage_option if inject and may_inject else (lambda kw: kw)
            wrapper = factory(tracer, start_for(operation), through_raw_response(finish), chunks, prepare)
            wrap_function_wrapper(module, f"{cls}.create", wrapper)

    def _unpatch(self) -> None:
        for module, cls, *_ in METHODS:
            unwrap(getattr(importlib.import_module(module), cls), "create")
