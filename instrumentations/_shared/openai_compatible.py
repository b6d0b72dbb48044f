"""Readers of OpenAI-shaped response payloads, for every SDK that answers in that shape.

OpenAI's Chat Completions wire shape is a de-facto standard: OpenAI itself,
LiteLLM (for every provider it fronts) and Mistral AI return it.  This module
is the one place that reads it, so a change here is a change to all of them
on purpose, and no SDK package imports another.

The contract, field by field (read by attribute or key, ``getattr``-style, so a
field a server leaves out, or garbage it sends, yields ``None``, never an error):

* chat completion (``ChatCompletion``, LiteLLM ``ModelResponse``, Mistral
  ``ChatCompletionResponse`` / FIM response): ``model``, ``id``,
  ``choices[].finish_reason``, ``choices[].message.content`` (recorded only
  when content capture is on), and ``usage`` with ``prompt_tokens`` (input,
  cached tokens included), ``completion_tokens`` (output, reasoning
  included), ``prompt_tokens_details.cached_tokens`` and
  ``completion_tokens_details.reasoning_tokens``;
* embeddings (``CreateEmbeddingResponse``, LiteLLM ``EmbeddingResponse``,
  Mistral ``EmbeddingResponse``): ``model`` and ``usage.prompt_tokens``;
* stream chunk (``ChatCompletionChunk``, LiteLLM ``ModelResponseStream``, the
  ``data`` of a Mistral ``CompletionEvent``): ``model``, ``id``,
  ``choices[].index`` + ``choices[].finish_reason``, ``choices[].delta.content``
  and ``choices[].delta.tool_calls[].function.arguments`` (their characters,
  for an estimate when no usage comes), and ``usage`` (the same fields as a
  completion's; present on the last chunk only when the request asked for it).

What a provider reports beyond this shape (LiteLLM's cache writes and price)
is read by that SDK's own ``extract`` module on top of these readers.
"""

from __future__ import annotations

import json
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared.content import capture_content
from otel_carbon.instrumentations._shared.fields import count as _int
from otel_carbon.instrumentations._shared.fields import get_path as _get
from otel_carbon.instrumentations._shared.invocation import Response, finish_reasons


def chat_response(completion: Any) -> Response:
    """Facts of an OpenAI-shaped chat completion."""
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
    """Facts of an OpenAI-shaped embeddings response."""
    return Response(model=_get(result, "model"), input_tokens=_int(_get(result, "usage", "prompt_tokens")))


class ChatChunks:
    """Accumulates OpenAI-shaped chat completion chunks: model, id, finish reasons, usage of the final
    chunk, and the characters of streamed text (for an estimate when the stream carries no usage)."""

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
