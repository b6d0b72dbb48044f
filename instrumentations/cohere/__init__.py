"""Cohere instrumentation: the v2 API's ``chat``, ``chat_stream`` and ``embed``, sync and async
(``cohere.ClientV2`` / ``AsyncClientV2``, and ``Client().v2``).

Input tokens are what the model processed (``usage.tokens``, template and
preamble included), with the cached prompt tokens also recorded as cache
reads.  Cohere's Bedrock, SageMaker and OCI clients are recorded under those
providers (see :mod:`.extract`).

Instrument before creating clients: ``cohere.ClientV2.__init__`` binds its
``chat`` and ``chat_stream`` methods onto the instance (argument checks), so
a client made earlier keeps calling the unwrapped methods.  Zero-code
instrumentation, and the deferred patch on ``import cohere``, always come
first.

    from otel_carbon.instrumentations.cohere import CohereInstrumentor
    CohereInstrumentor().instrument()
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer
from wrapt import wrap_function_wrapper

from otel_carbon.instrumentations._shared.deferred import DeferredInstrumentor
from otel_carbon.instrumentations.cohere.extract import ChatEvents
from otel_carbon.instrumentations.cohere.package import _instruments
from otel_carbon.instrumentations.cohere.patch import METHODS, MODULE, start_for


class CohereInstrumentor(DeferredInstrumentor):
    """Spans for ``cohere`` v2 client calls, with the GenAI attributes our carbon processor reads."""

    _module = "cohere"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        for cls, method, operation, stream, finish, factory in METHODS:
            wrapper = factory(tracer, start_for(operation, stream), finish, ChatEvents)
            wrap_function_wrapper(MODULE, f"{cls}.{method}", wrapper)

    def _unpatch(self) -> None:
        module = importlib.import_module(MODULE)
        for cls, method, *_ in METHODS:
            unwrap(getattr(module, cls), method)
