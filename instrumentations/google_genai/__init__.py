"""Google Gen AI SDK (``google-genai``) instrumentation: ``generate_content``,
``generate_content_stream`` and ``embed_content``, sync (``client.models``) and
async (``client.aio.models``), for the Gemini Developer API (``gcp.gemini``)
and Vertex AI (``gcp.vertex_ai``, a ``vertexai=True`` client).

Output tokens include the model's thinking (``thoughts_token_count``, also
recorded as reasoning tokens); input tokens include the cached prefix and
tool-use prompt tokens (see :mod:`.extract`).  With automatic function
calling, one ``generate_content`` call makes several model requests; the SDK
returns the last one's response, so the span's usage is that request's.

    from otel_carbon.instrumentations.google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument()
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
from otel_carbon.instrumentations.google_genai.extract import ContentChunks
from otel_carbon.instrumentations.google_genai.package import _instruments
from otel_carbon.instrumentations.google_genai.patch import CLASSES, METHODS, MODULE, start_for


class GoogleGenAIInstrumentor(DeferredInstrumentor):
    """Spans for ``google-genai`` model calls, with the GenAI attributes our carbon processor reads."""

    _module = "google.genai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        for cls in CLASSES:
            factory = async_wrapper if cls.startswith("Async") else sync_wrapper
            for method, operation, stream, finish in METHODS:
                wrapper = factory(tracer, start_for(operation, stream), finish, ContentChunks)
                wrap_function_wrapper(MODULE, f"{cls}.{method}", wrapper)

    def _unpatch(self) -> None:
        module = importlib.import_module(MODULE)
        for cls in CLASSES:
            for method, *_ in METHODS:
                unwrap(getattr(module, cls), method)
