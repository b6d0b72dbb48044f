"""What the Mistral AI instrumentation wraps: chat and FIM completions (plain and streamed) and embeddings."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from otel_carbon.instrumentations._shared import Response
from otel_carbon.instrumentations._shared.openai_compatible import chat_response, embeddings_response
from otel_carbon.instrumentations.mistralai import extract

#: (module, class, method, GenAI operation, streams, extractor of a plain result)
METHODS: tuple[tuple[str, str, str, str, bool, Callable[[Any], Response]], ...] = tuple(
    (module, cls, method + suffix, operation, method == "stream", finish)
    for module, cls, operation, finish, methods in (
        ("mistralai.client.chat", "Chat", "chat", chat_response, ("complete", "stream")),
        ("mistralai.client.fim", "Fim", "text_completion", chat_response, ("complete", "stream")),
        ("mistralai.client.embeddings", "Embeddings", "embeddings", embeddings_response, ("create",)),
    )
    for method in methods
    for suffix in ("", "_async")
)


def start_for(operation: str, stream: bool) -> Any:
    """The ``start`` extractor of one wrapped method."""
    return partial(extract.request, operation, stream)
