"""What the cohere instrumentation wraps: ``chat``, ``chat_stream`` and ``embed`` of the v2 clients.

They are defined on ``cohere.v2.client.V2Client`` / ``AsyncV2Client``, which
``cohere.ClientV2`` / ``AsyncClientV2`` (and the Bedrock, SageMaker and OCI
v2 clients) inherit and ``Client().v2`` is an instance of, so wrapping there
covers every way to reach the v2 API.  Both ``chat_stream`` methods are
generator functions (the async one an async generator function): calling one
returns the stream at once without awaiting, so both are wrapped
synchronously and their result proxied (:class:`SyncStream` /
:class:`AsyncStream`).  ``with_raw_response`` calls are not traced.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from otel_carbon.instrumentations._shared import AsyncStream
from otel_carbon.instrumentations._shared.wrappers import async_wrapper, sync_wrapper
from otel_carbon.instrumentations.cohere import extract

MODULE = "cohere.v2.client"

#: (class, method, GenAI operation, streams, extractor of a plain result, wrapper factory)
METHODS: tuple[tuple[str, str, str, bool, Callable[[Any], Any], Callable[..., Any]], ...] = (
    ("V2Client", "chat", "chat", False, extract.chat_response, sync_wrapper),
    ("V2Client", "chat_stream", "chat", True, extract.chat_response, sync_wrapper),
    ("V2Client", "embed", "embeddings", False, extract.embeddings_response, sync_wrapper),
    ("AsyncV2Client", "chat", "chat", False, extract.chat_response, async_wrapper),
    ("AsyncV2Client", "chat_stream", "chat", True, extract.chat_response, partial(sync_wrapper, proxy=AsyncStream)),
    ("AsyncV2Client", "embed", "embeddings", False, extract.embeddings_response, async_wrapper),
)


def start_for(operation: str, stream: bool) -> Any:
    """The ``start`` extractor of one wrapped method."""
    return partial(extract.request, operation, stream)
