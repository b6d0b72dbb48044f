"""What the OpenAI instrumentation wraps, and its one opt-in request rewrite."""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from otel_carbon.instrumentations.openai import extract

#: Opt-in: ask for usage on streamed chat completions (adds ``stream_options.include_usage``).
INCLUDE_USAGE_ENV = "OTEL_CARBON_OPENAI_INCLUDE_USAGE"

# (module, class, operation, extractor of the result, stream accumulator, may inject include_usage)
METHODS = (
    ("openai.resources.chat.completions", "Completions", "chat", extract.chat_response, extract.ChatChunks, True),
    ("openai.resources.chat.completions", "AsyncCompletions", "chat", extract.chat_response, extract.ChatChunks, True),
    ("openai.resources.responses", "Responses", "chat", extract.responses_response, extract.ResponseEvents, False),
    ("openai.resources.responses", "AsyncResponses", "chat", extract.responses_response, extract.ResponseEvents, False),
    ("openai.resources.embeddings", "Embeddings", "embeddings", extract.embeddings_response, extract.ChatChunks, False),
    ("openai.resources.embeddings", "AsyncEmbeddings", "embeddings", extract.embeddings_response, extract.ChatChunks, False),
)


def include_usage_requested() -> bool:
    return os.environ.get(INCLUDE_USAGE_ENV, "").strip().lower() in ("true", "1")


def with_usage_option(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Add ``stream_options={"include_usage": True}`` to a streamed call that set no stream options."""
    if kwargs.get("stream") and "stream_options" not in kwargs:
        return {**kwargs, "stream_options": {"include_usage": True}}
    return kwargs


def start_for(operation: str) -> Any:
    """The ``start`` extractor of ``operation`` (``chat`` or ``embeddings``)."""
    return partial(extract.request, operation)
