"""Pure functions from ``llama_cpp.Llama`` calls and their OpenAI-shaped results to span facts.

Non-streamed results carry ``usage`` (prompt and completion tokens, counted
by llama.cpp).  Streamed chunks carry none: the accumulator counts the
chunks that carry text, one per decoded token except where llama.cpp holds
tokens back to complete a multi-byte character or to rule out a stop
sequence, so a streamed span's output count can be a few tokens low; its
input count is not reported.  Energy is measured by the window either way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content
from otel_carbon.instrumentations._shared.fields import count, get_path
from otel_carbon.instrumentations._shared.invocation import finish_reasons

_PARAMETERS = (
    (sc.GEN_AI_REQUEST_MAX_TOKENS, "max_tokens"),
    (sc.GEN_AI_REQUEST_TEMPERATURE, "temperature"),
    (sc.GEN_AI_REQUEST_TOP_P, "top_p"),
)
# The argument each method takes first, positionally or by name, and records when content capture is on.
_CONTENT_ARGUMENT = {"text_completion": "prompt", "chat": "messages", "embeddings": "input"}


def _short(name: Any) -> str | None:
    """A model file path as the file's name without directory or ``.gguf``; other names unchanged."""
    if not name:
        return None
    name = str(name)
    return os.path.splitext(os.path.basename(name))[0] if name.endswith(".gguf") else name


def model_name(llama: Any, kwargs: Mapping[str, Any]) -> str | None:
    """The ``model`` keyword if given, else the model file's name (``llama.model_path``)."""
    return _short(kwargs.get("model") or getattr(llama, "model_path", None))


def request(operation: str, llama: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """Start facts of ``operation`` on ``llama``: in process, so INTERNAL and measured (``local``)."""
    attributes: dict[str, Any] = {
        attribute: kwargs[name] for attribute, name in _PARAMETERS if isinstance(kwargs.get(name), (int, float))
    }
    if capture_content():
        content = args[0] if args else kwargs.get(_CONTENT_ARGUMENT[operation])
        attributes[sc.GEN_AI_INPUT_MESSAGES] = json.dumps(content, default=str)
    return Request(
        operation=operation,
        provider=sc.PROVIDER_LLAMA_CPP,
        model=model_name(llama, kwargs),
        stream=bool(kwargs.get("stream")),
        local=True,
        attributes=attributes,
    )


def completion_response(result: Any) -> Response:
    """Facts of a ``create_completion`` / ``create_chat_completion`` / ``create_embedding`` result."""
    usage = get_path(result, "usage")
    choices = get_path(result, "choices") or ()
    return Response(
        model=_short(get_path(result, "model")),
        response_id=get_path(result, "id"),
        finish_reasons=finish_reasons([get_path(choice, "finish_reason") for choice in choices]),
        input_tokens=count(get_path(usage, "prompt_tokens")),
        output_tokens=count(get_path(usage, "completion_tokens")),
    )


class StreamChunks:
    """Accumulates streamed completion or chat chunks: model, id, finish reason, chunks with text."""

    def __init__(self) -> None:
        self._model: Any = None
        self._id: Any = None
        self._reasons: list[Any] = []
        self._texts = 0

    def add(self, chunk: Any) -> None:
        self._model = get_path(chunk, "model") or self._model
        self._id = get_path(chunk, "id") or self._id
        for choice in get_path(chunk, "choices") or ():
            if get_path(choice, "text") or get_path(choice, "delta", "content"):
                self._texts += 1
            if get_path(choice, "finish_reason"):
                self._reasons.append(get_path(choice, "finish_reason"))

    def response(self) -> Response:
        return Response(model=_short(self._model), response_id=self._id, finish_reasons=finish_reasons(self._reasons),
                        output_tokens=self._texts)
