"""Ollama's REST API (https://docs.ollama.com/api), as the ``ollama`` Python client reads it.

* ``POST /api/chat`` and ``POST /api/generate``: one JSON object, or with
  ``"stream": true`` (the API's default) newline-delimited JSON, one part per
  word with ``"done": false``, then a final part with ``done``,
  ``done_reason`` and the counts and durations (nanoseconds).
* ``POST /api/embed``: ``embeddings`` (one vector per input) and
  ``prompt_eval_count``; the deprecated ``POST /api/embeddings``: one
  ``embedding`` and no counts.
* Errors: a status with ``{"error": "..."}``; inside a stream, a part
  ``{"error": "..."}``.

Counts: a generation costs one output token (``eval_count``) per word part;
an embedding one input token per whitespace-separated word of its inputs.
Failures by model name: ``fail-400`` / ``fail-500`` answer that status;
``fail-garbage`` sends a truncated JSON body, or a line that is not JSON after
the first part; ``fail-stream-error`` sends an error part after the first part.
"""

from __future__ import annotations

from typing import Any

from wire_server import Call, Reply, Route, json_reply, ndjson_reply, word_tokens

#: The generated text, one streamed part (and one ``eval_count`` token) per word.
WORDS = ("Le", " ciel", " est", " bleu", ".")
PROMPT_EVAL_COUNT = 26
EVAL_COUNT = len(WORDS)
TOTAL_DURATION = 1_250_000_000  # ns
LOAD_DURATION = 50_000_000
PROMPT_EVAL_DURATION = 200_000_000
EVAL_DURATION = 900_000_000
CREATED_AT = "2026-11-22T18:00:00.000000Z"


def _error(call: Call) -> Reply | None:
    model = call.body.get("model") if isinstance(call.body, dict) else None
    if model == "fail-400":
        return json_reply({"error": "model is required"}, 400)
    if model == "fail-500":
        return json_reply({"error": "llama runner process has terminated: exit status 2"}, 500)
    return None


def _final(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": CREATED_AT,
        "done": True,
        "done_reason": "stop",
        "total_duration": TOTAL_DURATION,
        "load_duration": LOAD_DURATION,
        "prompt_eval_count": PROMPT_EVAL_COUNT,
        "prompt_eval_duration": PROMPT_EVAL_DURATION,
        "eval_count": EVAL_COUNT,
        "eval_duration": EVAL_DURATION,
    }


def _generation(call: Call, text: Any) -> Reply:
    """``text(fragment)`` is the part's payload: ``message`` for chat, ``response`` for generate."""
    failed = _error(call)
    if failed is not None:
        return failed
    model = call.body["model"]
    if not call.body.get("stream", True):
        if model == "fail-garbage":
            return Reply(body=b'{"model": "fail-garbage", "done": tr')
        return json_reply({**_final(model), **text("".join(WORDS))})
    parts: list[Any] = [{"model": model, "created_at": CREATED_AT, "done": False, **text(w)} for w in WORDS]
    parts.append({**_final(model), **text("")})
    if model == "fail-stream-error":
        parts[1:] = [{"error": "an error was encountered while running the model"}]
    return ndjson_reply(parts, garbage_at=1 if model == "fail-garbage" else None)


def chat(call: Call) -> Reply:
    return _generation(call, lambda fragment: {"message": {"role": "assistant", "content": fragment}})


def generate(call: Call) -> Reply:
    return _generation(call, lambda fragment: {"response": fragment})


def embed(call: Call) -> Reply:
    failed = _error(call)
    if failed is not None:
        return failed
    inputs = call.body["input"]
    count = 1 if isinstance(inputs, str) else len(inputs)
    return json_reply({
        "model": call.body["model"],
        "embeddings": [[0.01, -0.02, 0.03]] * count,
        "total_duration": TOTAL_DURATION,
        "load_duration": LOAD_DURATION,
        "prompt_eval_count": word_tokens(inputs),
    })


def embeddings(call: Call) -> Reply:
    failed = _error(call)
    return failed if failed is not None else json_reply({"embedding": [0.01, -0.02, 0.03]})


def routes() -> list[Route]:
    return [
        ("POST", r"/api/chat", chat),
        ("POST", r"/api/generate", generate),
        ("POST", r"/api/embed", embed),
        ("POST", r"/api/embeddings", embeddings),
    ]
