"""Anthropic instrumentation: ``messages.create`` (plain and ``stream=True``) and the
``messages.stream()`` helper, sync and async.

Token counts follow the GenAI conventions: input tokens include cache reads
and cache writes (Anthropic reports them apart), which are also recorded on
their own attributes.

    from otel_carbon.instrumentations.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument()
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
from otel_carbon.instrumentations.anthropic import extract
from otel_carbon.instrumentations.anthropic.package import _instruments
from otel_carbon.instrumentations.anthropic.patch import CLASSES, MODULE, stream_helper_wrapper


class AnthropicInstrumentor(DeferredInstrumentor):
    """Spans for ``anthropic`` messages calls, with the GenAI attributes our carbon processor reads."""

    _module = "anthropic"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        for cls in CLASSES:
            factory = async_wrapper if cls.startswith("Async") else sync_wrapper
            wrap_function_wrapper(
                MODULE, f"{cls}.create",
                factory(tracer, extract.request, extract.message_response, extract.MessageEvents),
            )
            wrap_function_wrapper(MODULE, f"{cls}.stream", stream_helper_wrapper(tracer))

    def _unpatch(self) -> None:
        module = importlib.import_module(MODULE)
        for cls in CLASSES:
            unwrap(getattr(module, cls), "create")
            unwrap(getattr(module, cls), "stream")
