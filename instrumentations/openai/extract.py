"""Pure functions from OpenAI requests, responses and stream chunks to span facts.

They read SDK objects by attribute (``getattr`` with defaults), so a field an
OpenAI-compatible server leaves out, or garbage it sends, yields ``None``
rather than an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content
from otel_carbon.instrumentations._shared.fields import count as _int
from otel_carbon.instrumentations._shared.fields import get_path as _get
from otel_carbon.instrumentations._shared.invocation import finish_reasons
from otel_carbon.instrumentations._shared.request import request_from_call


def request(operation: str, resource: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """The span's start facts for ``operation`` called with ``kwargs`` on an SDK ``resource``."""
    return request_from_call(
        operation,
        "openai",
        getattr(resource, "_client", None),
        kwargs,
        max_tokens_keys=("max_completion_tokens", "max_tokens", "max_output_tokens"),
        content_keys=("messages", "input"),
    )


def chat_response(completion: Any) -> Response:
    """Facts of a ``ChatCompletion``."""
    usage = _get(completion, "usage")
    response = Response(
        model=_get(completion, "model"),
        response_id=_get(completion, "id"),
        finish_reasons=finish_reasons([_get(c, "finish_reason") for c in _get(completion, "choices") or ()]),
        input_tokens=_int(_get(usage, "prompt_tokens")),
        output_tokens=_int(_get(usage, "completion_tokens")),
        cache_read_tokens=_int(_get(usage, "prompt_tokens_details", "cached_tokens")),
        reasoning_tokens=_int(_get(usage, "completion_tokens_details", "reasoning_tokens")),
    )
    if capture_content():
        texts = [_get(c, "message", "content") for c in _get(completion, "choices") or ()]
        response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(texts, default=str)
    return response


def embeddings_response(result: Any) -> Response:
    """Facts of a ``CreateEmbeddingResponse``."""
    return Response(model=_get(result, "model"), input_tokens=_int(_get(result, "usage", "prompt_tokens")))


def responses_response(result: Any) -> Response:
    """Facts of a Responses API ``Response``."""
    usage = _get(result, "usage")
    status = _get(result, "status")
    return Response(
        model=_get(result, "model"),
        response_id=_get(result, "id"),
        finish_reasons=[str(status)] if status else [],
        input_tokens=_int(_get(usage, "input_tokens")),
        output_tokens=_int(_get(usage, "output_tokens")),
        cache_read_tokens=_int(_get(usage, "input_tokens_details", "cached_tokens")),
        reasoning_tokens=_int(_get(usage, "output_tokens_details", "reasoning_tokens")),
    )


class ChatChunks:
    """Accumulates ``ChatCompletionChunk``s: model, id, finish reasons, usage of the final chunk, and the
    characters of streamed text (for an estimate when the stream carries no usage)."""

    def __init__(self) -> None:
        self._model: str | None = None
        self._id: str | None = None
        self._reasons: dict[int, str] = {}
        self._usage: Any = None
        self._chars = 0

    def add(self, chunk: Any) -> None:
        self._model = _get(chunk, "model") or self._model
        self._id = _get(chunk, "id") or self._id
        for choice in _get(chunk, "choices") or ():
            reason = _get(choice, "finish_reason")
            if reason:
                self._reasons[_get(choice, "index") or 0] = str(reason)
            if self._usage is None:
                self._chars += _delta_chars(_get(choice, "delta"))
        self._usage = _get(chunk, "usage") or self._usage

    def response(self) -> Response:
        response = chat_response({"model": self._model, "id": self._id, "usage": self._usage, "choices": ()})
        response.output_chars = self._chars
        response.finish_reasons = [self._reasons[i] for i in sorted(self._reasons)]
        response.attributes.pop(sc.GEN_AI_OUTPUT_MESSAGES, None)
        return response


def _delta_chars(delta: Any) -> int:
    """Characters of text and tool-call arguments in one chunk's ``delta``."""
    content = _get(delta, "content")
    chars = len(content) if isinstance(content, str) else 0
    for call in _get(delta, "tool_calls") or ():
        arguments = _get(call, "function", "arguments")
        chars += len(arguments) if isinstance(arguments, str) else 0
    return chars


class ResponseEvents:
    """Accumulates Responses API stream events; the ``response.completed`` event carries usage."""

    def __init__(self) -> None:
        self._final: Any = None

    def add(self, event: Any) -> None:
        if _get(event, "type") in ("response.completed", "response.incomplete", "response.failed"):
            self._final = _get(event, "response")

    def response(self) -> Response:
        return responses_response(self._final) if self._final is not None else Response()
