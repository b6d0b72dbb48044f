"""What the OpenAI instrumentation wraps, and its one opt-in request rewrite."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

from otel_carbon.instrumentations._shared import Response
from otel_carbon.instrumentations._shared import openai_compatible as compat
from otel_carbon.instrumentations._shared.stream import Accumulator
from otel_carbon.instrumentations.openai import extract

#: Opt-in: ask for usage on streamed chat completions (adds ``stream_options.include_usage``).
INCLUDE_USAGE_ENV = "OTEL_CARBON_OPENAI_INCLUDE_USAGE"

#: (module, class, operation, extractor of the result, stream accumulator or ``None`` for a method
#: that never streams, may inject include_usage)
METHODS: tuple[tuple[str, str, str, Callable[[Any], Response], Callable[[], Accumulator] | None, bool], ...] = (
    ("openai.resources.chat.completions", "Completions", "chat", compat.chat_response, compat.ChatChunks, True),
    ("openai.resources.chat.completions", "AsyncCompletions", "chat", compat.chat_response, compat.ChatChunks, True),
    ("openai.resources.responses", "Responses", "chat", extract.responses_response, extract.ResponseEvents, False),
    ("openai.resources.responses", "AsyncResponses", "chat", extract.responses_response, extract.ResponseEvents, False),
    ("openai.resources.embeddings", "Embeddings", "embeddings", compat.embeddings_response, None, False),
    ("openai.resources.embeddings", "AsyncEmbeddings", "embeddings", compat.embeddings_response, None, False),
)


def include_usage_requested() -> bool:
    return os.environ.get(INCLUDE_USAGE_ENV, "").strip().lower() in ("true", "1")


def with_usage_option(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Add ``stream_options={"include_usage": True}`` to a streamed call that set no stream options."""
    if kwargs.get("stream") and "stream_options" not in kwargs:
        return {**kwargs, "stream_options": {"include_usage": True}}
    return kwargs


def through_raw_response(finish: Callable[[Any], Response]) -> Callable[[Any], Response]:
    """``finish`` that also reads ``with_raw_response`` results (LiteLLM calls the SDK that way).

    A raw response is parsed with its own ``parse()``, which caches: the caller's
    later ``parse()`` returns the same object, so the work is not done twice.
    """

    def read(result: Any) -> Response:
        if hasattr(result, "http_response") and callable(getattr(result, "parse", None)):
            result = result.parse()
        return finish(result)

    return read


def start_for(operation: str) -> Any:
    """The ``start`` extractor of ``operation`` (``chat`` or ``embeddings``)."""
    return partial(extract.request, operation)
