"""What the google-genai instrumentation wraps: ``generate_content``, ``generate_content_stream``
and ``embed_content`` of ``Models`` (``client.models``) and ``AsyncModels`` (``client.aio.models``).

Chats (``client.chats`` / ``client.aio.chats``) call these methods, so they
are covered too, with one span per message.  The async
``generate_content_stream`` is a coroutine returning an async generator: the
wrapper awaits it and proxies the generator (``AsyncStream`` closes it with
``aclose()``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from otel_carbon.instrumentations._shared import Response
from otel_carbon.instrumentations.google_genai import extract

MODULE = "google.genai.models"
CLASSES = ("Models", "AsyncModels")

#: (method, GenAI operation, streams, extractor of a plain result)
METHODS: tuple[tuple[str, str, bool, Callable[[Any], Response]], ...] = (
    ("generate_content", "chat", False, extract.content_response),
    ("generate_content_stream", "chat", True, extract.content_response),
    ("embed_content", "embeddings", False, extract.embeddings_response),
)


def start_for(operation: str, stream: bool) -> Any:
    """The ``start`` extractor of one wrapped method."""
    return partial(extract.request, operation, stream)
