"""Cohere's v2 API (https://docs.cohere.com/reference/chat), as the ``cohere`` SDK's v2 client reads it.

* ``POST /v2/chat``: ``{"id", "finish_reason", "message": {"role", "content": [{"type": "text", "text"}]},
  "usage": {"billed_units": {...}, "tokens": {...}, "cached_tokens"}}`` (no model in the response).
* ``POST /v2/chat`` with ``"stream": true``: server-sent events, each named by its ``type``:
  ``message-start`` (the id), ``content-start``, one ``content-delta`` per word,
  ``content-end``, then ``message-end`` whose ``delta`` has ``finish_reason`` and ``usage``.
* ``POST /v2/embed``: ``{"id", "embeddings": {"float": [...]}, "texts", "meta": {"billed_units":
  {"input_tokens"}}, "response_type": "embeddings_by_type"}``.
* Errors: the status with ``{"id", "message"}``.

Counts: ``usage.tokens`` is what the model processed (the input includes the
chat template and system preamble Cohere adds, so it exceeds the billed input
``usage.billed_units.input_tokens``); ``cached_tokens`` is the part of the
prompt served from the inference cache; a generation costs one output token per
word; an embedding one billed input token per whitespace-separated word.
Failures by model name: ``fail-400`` / ``fail-500`` answer that status;
``fail-garbage`` sends a truncated JSON body, or an event that is not JSON
after ``message-start`` and ends the stream there.
"""

from __future__ import annotations

from typing import Any

from wire_server import Call, Reply, Route, json_reply, sse_reply, word_tokens

#: The generated text, one ``content-delta`` (and one output token) per word.
WORDS = ("Hola", " desde", " Toronto", ".")
INPUT_TOKENS = 212  # what the model processed: the template and preamble are inside
BILLED_INPUT_TOKENS = 14
CACHED_TOKENS = 128
OUTPUT_TOKENS = len(WORDS)
CHAT_ID = "c14c80c3-18eb-4519-9460-6c92edd8cfb4"
EMBED_ID = "e2d5f3a1-7a44-4f3b-9f1e-2b0c7d0e6a11"


def _error(call: Call) -> Reply | None:
    model = call.body.get("model") if isinstance(call.body, dict) else None
    if model == "fail-400":
        return json_reply({"id": "err-400", "message": "invalid request: model 'fail-400' not found"}, 400)
    if model == "fail-500":
        return json_reply({"id": "err-500", "message": "internal server error, this has been reported"}, 500)
    if model == "fail-garbage" and not call.body.get("stream"):
        return Reply(body=b'{"id": "garbage", "message": {"role": "assistant", "content": [')
    return None


def _usage() -> dict[str, Any]:
    return {
        "billed_units": {"input_tokens": BILLED_INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
        "tokens": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
        "cached_tokens": CACHED_TOKENS,
    }


def _stream() -> list[tuple[str, dict[str, Any]]]:
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": CHAT_ID,
         "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
                               "citations": []}}},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    ]
    events += [{"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": word}}}}
               for word in WORDS]
    events += [
        {"type": "content-end", "index": 0},
        {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": _usage()}},
    ]
    return [(event["type"], event) for event in events]


def chat(call: Call) -> Reply:
    """A chat reply, streamed when the body says ``stream``."""
    failed = _error(call)
    if failed is not None:
        return failed
    if call.body.get("stream"):
        return sse_reply(_stream(), garbage_at=1 if call.body["model"] == "fail-garbage" else None)
    return json_reply({
        "id": CHAT_ID,
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "".join(WORDS)}]},
        "usage": _usage(),
    })


def embed(call: Call) -> Reply:
    failed = _error(call)
    if failed is not None:
        return failed
    texts = call.body["texts"]
    return json_reply({
        "id": EMBED_ID,
        "embeddings": {"float": [[0.1, 0.2, 0.3] for _ in texts]},
        "texts": texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": word_tokens(texts)}},
        "response_type": "embeddings_by_type",
    })


def routes() -> list[Route]:
    return [("POST", r"/v2/chat", chat), ("POST", r"/v2/embed", embed)]
