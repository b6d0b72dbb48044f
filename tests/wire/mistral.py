"""Mistral AI's wire format (https://docs.mistral.ai/api), as the ``mistralai`` SDK reads it.

* ``POST /v1/chat/completions`` and ``POST /v1/fim/completions``: a JSON
  completion, or with ``"stream": true`` data-only server-sent events, one
  ``chat.completion.chunk`` per word, the last one with ``finish_reason`` and
  ``usage``, then ``data: [DONE]``.
* ``POST /v1/embeddings``: one vector per input, usage in ``prompt_tokens``.

Usage is counted as the API counts it: ``prompt_tokens`` includes the cached
prefix reported in ``prompt_tokens_details.cached_tokens`` (whole 64-token
cache blocks); a streamed completion costs one token per word chunk; an
embedding request costs one token per whitespace-separated word of its inputs.
Failures by model name: ``fail-400`` / ``fail-500`` answer that status with
Mistral's error object; a ``json_schema`` response format gets its answer as
``{"text": ...}``; ``fail-garbage`` sends a truncated JSON body, or
breaks the stream after its first chunk.
"""

from __future__ import annotations

import json
from typing import Any

from wire_server import Call, Reply, Route, json_reply, sse_reply, word_tokens

#: The streamed completion, one chunk (and one completion token) per word.
WORDS = ("Bonjour", " depuis", " Paris", ".")
PROMPT_TOKENS = 150
CACHED_TOKENS = 128  # two 64-token cache blocks of the prompt's prefix
COMPLETION_TOKENS = len(WORDS)
CREATED = 1_763_800_000


def _error(call: Call) -> Reply | None:
    model = call.body.get("model") if isinstance(call.body, dict) else None
    if model == "fail-400":
        return json_reply({"object": "error", "message": "Invalid model: fail-400", "type": "invalid_model",
                           "param": None, "code": "1500"}, 400)
    if model == "fail-500":
        return json_reply({"object": "error", "message": "Internal server error", "type": "internal_error",
                           "param": None, "code": None}, 500)
    return None


def _usage() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
    }


def _chunk(model: str, index: int, delta: dict[str, Any], finish: str | None, usage: Any = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": f"cmpl-stream-{model}",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _stream(model: str) -> Reply:
    chunks = [_chunk(model, 0, {"role": "assistant", "content": WORDS[0]}, None)]
    chunks += [_chunk(model, i, {"content": word}, None) for i, word in enumerate(WORDS[1:], 1)]
    chunks.append(_chunk(model, len(WORDS), {"content": ""}, "stop", _usage()))
    garbage_at = 1 if model == "fail-garbage" else None
    return sse_reply(((None, chunk) for chunk in chunks), done=True, garbage_at=garbage_at)


def completions(call: Call) -> Reply:
    """Chat or FIM completion, streamed when the body says ``stream``."""
    failed = _error(call)
    if failed is not None:
        return failed
    model = call.body["model"]
    if call.body.get("stream"):
        return _stream(model)
    if model == "fail-garbage":
        return Reply(body=b'{"id": "cmpl-garbage", "object": "chat.completion", "choices": [')
    content = "".join(WORDS)
    if (call.body.get("response_format") or {}).get("type") == "json_schema":  # structured output
        content = json.dumps({"text": content})
    return json_reply({
        "id": f"cmpl-{model}",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content, "tool_calls": None}}],
        "usage": _usage(),
    })


def embeddings(call: Call) -> Reply:
    failed = _error(call)
    if failed is not None:
        return failed
    inputs = call.body["input"]
    texts = [inputs] if isinstance(inputs, str) else inputs
    tokens = word_tokens(inputs)
    return json_reply({
        "id": "embd-1",
        "object": "list",
        "model": call.body["model"],
        "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(texts))],
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    })


def routes() -> list[Route]:
    return [
        ("POST", r"/v1/chat/completions", completions),
        ("POST", r"/v1/fim/completions", completions),
        ("POST", r"/v1/embeddings", embeddings),
    ]
