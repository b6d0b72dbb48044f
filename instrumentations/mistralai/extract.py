"""Pure functions from Mistral AI SDK calls, responses and stream events to span facts.

Mistral's chat, FIM and embeddings responses have OpenAI's shape (``usage``
with ``prompt_tokens`` / ``completion_tokens`` and
``prompt_tokens_details.cached_tokens``, ``choices[].finish_reason``), so they
are read by the shared OpenAI-compatible readers
(:mod:`otel_carbon.instrumentations._shared.openai_compatible`).  What
differs is the call: the endpoint is the SDK configuration's server URL (or a
per-call ``server_url``), streaming is a method of its own rather than a
``stream=`` flag, embeddings take ``inputs``, and each stream event carries
its chunk in ``data``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response
from otel_carbon.instrumentations._shared.fields import get_path
from otel_carbon.instrumentations._shared.openai_compatible import ChatChunks
from otel_carbon.instrumentations._shared.request import request_from_call


@dataclasses.dataclass(frozen=True)
class _Endpoint:
    """What :func:`request_from_call` reads of a client: its ``base_url``."""

    base_url: str | None


def server_url(resource: Any, kwargs: Mapping[str, Any]) -> str | None:
    """The URL the call goes to: ``server_url=`` of the call, else the SDK configuration's server."""
    if kwargs.get("server_url"):
        return str(kwargs["server_url"])
    configuration = getattr(resource, "sdk_configuration", None)
    try:
        return str(configuration.get_server_details()[0])  # type: ignore[union-attr]
    except Exception:  # no configuration, or an unknown named server: the SDK will say so itself
        return None


def request(operation: str, stream: bool, resource: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """The span's start facts of ``operation`` called with ``kwargs`` on an SDK ``resource``
    (``Chat``, ``Fim`` or ``Embeddings``); ``stream`` says whether the method streams."""
    call = request_from_call(
        operation,
        sc.PROVIDER_MISTRAL_AI,
        _Endpoint(server_url(resource, kwargs)),
        kwargs,
        content_keys=("messages", "prompt", "inputs"),
    )
    return dataclasses.replace(call, stream=stream)


class CompletionEvents:
    """Accumulates ``CompletionEvent``s, each an OpenAI-shaped chunk in ``data``; the last has usage."""

    def __init__(self) -> None:
        self._chunks = ChatChunks()

    def add(self, event: Any) -> None:
        self._chunks.add(get_path(event, "data"))

    def response(self) -> Response:
        return self._chunks.response()
