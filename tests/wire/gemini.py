"""The Gemini API's wire format (https://ai.google.dev/api), as the ``google-genai`` SDK reads it.

The same routes serve the Gemini Developer API (``/v1/models/{model}:…``,
``/v1beta/…``) and Vertex AI (``/v1beta1/publishers/google/models/{model}:…``,
optionally under ``projects/{p}/locations/{l}/``), which share the shapes used here:

* ``:generateContent``: one ``GenerateContentResponse`` (``candidates[]`` with
  ``content.parts[].text`` and ``finishReason``, ``usageMetadata``,
  ``modelVersion``, ``responseId``).
* ``:streamGenerateContent?alt=sse``: data-only server-sent events, one
  ``GenerateContentResponse`` per word.  Every event carries ``usageMetadata``
  with the running totals so far (``promptTokenCount`` from the first event,
  ``candidatesTokenCount`` growing by one per word); the last has
  ``finishReason``.
* ``:batchEmbedContents``: ``embeddings[].values`` and ``usageMetadata.promptTokenCount``;
  Vertex's ``:predict`` (``text-embedding-*`` models): ``predictions[].embeddings``
  with ``statistics.token_count`` per input.
* Errors: the status with ``{"error": {"code", "message", "status"}}``.

Counts: ``promptTokenCount`` includes the cached prefix
(``cachedContentTokenCount``); ``candidatesTokenCount`` is the visible answer,
one token per word; ``thoughtsTokenCount`` is the model's thinking, reported
apart from the candidates; an embedding costs one token per whitespace-separated
word of its inputs.  Failures by model name: ``fail-400`` / ``fail-500``
answer that status; ``fail-garbage`` sends a truncated JSON body, or an event
that is not JSON after the first one.
"""

from __future__ import annotations

from typing import Any

from wire_server import Call, Reply, Route, json_reply, sse_reply, word_tokens

#: The generated text, one streamed event (and one candidates token) per word.
WORDS = ("Guten", " Tag", " aus", " Berlin", ".")
PROMPT_TOKENS = 1_100  # includes the cached prefix
CACHED_TOKENS = 1_024
CANDIDATES_TOKENS = len(WORDS)
THOUGHTS_TOKENS = 48
RESPONSE_ID = "gemini-response-7Qk2"

_PATH = (
    r"/(?P<version>v1|v1beta|v1beta1)/(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/google/)?"
    r"models/(?P<model>[^/:]+):(?P<method>\w+)"
)
_STATUS = {400: "INVALID_ARGUMENT", 500: "INTERNAL"}


def _error(model: str) -> Reply | None:
    for code in (400, 500):
        if model == f"fail-{code}":
            return json_reply({"error": {"code": code, "message": f"{model} failed", "status": _STATUS[code]}}, code)
    return None


def _usage(candidates: int) -> dict[str, Any]:
    return {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": candidates,
        "cachedContentTokenCount": CACHED_TOKENS,
        "thoughtsTokenCount": THOUGHTS_TOKENS,
        "totalTokenCount": PROMPT_TOKENS + candidates + THOUGHTS_TOKENS,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
    }


def _response(model: str, text: str, finish: str | None, candidates: int) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": _usage(candidates), "modelVersion": f"{model}-001",
            "responseId": RESPONSE_ID}


def _generate(model: str) -> Reply:
    return json_reply(_response(model, "".join(WORDS), "STOP", CANDIDATES_TOKENS))


def _stream(model: str) -> Reply:
    events = [
        _response(model, word, "STOP" if index == len(WORDS) else None, index)
        for index, word in enumerate(WORDS, 1)
    ]
    return sse_reply(((None, event) for event in events), garbage_at=1 if model == "fail-garbage" else None)


def _embed(call: Call) -> Reply:
    texts = [part["text"] for request in call.body["requests"] for part in request["content"]["parts"]]
    tokens = word_tokens(texts)
    return json_reply({
        "embeddings": [{"values": [0.1, 0.2, 0.3]} for _ in texts],
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
    })


def _predict(call: Call) -> Reply:
    """Vertex AI's text-embedding models: per-input statistics, no request-level usage."""
    texts = [instance["content"] for instance in call.body["instances"]]
    return json_reply({
        "predictions": [
            {"embeddings": {"values": [0.1, 0.2, 0.3], "statistics": {"token_count": word_tokens(text),
                                                                       "truncated": False}}}
            for text in texts
        ],
        "metadata": {"billableCharacterCount": sum(len(text) for text in texts)},
    })


def models(call: Call) -> Reply:
    model, method = call.params["model"], call.params["method"]
    failed = _error(model)
    if failed is not None:
        return failed
    if model == "fail-garbage" and method != "streamGenerateContent":
        return Reply(body=b'{"candidates": [{"content": {"parts": [')
    if method == "generateContent":
        return _generate(model)
    if method == "streamGenerateContent":
        return _stream(model)
    if method == "batchEmbedContents":
        return _embed(call)
    if method == "predict":
        return _predict(call)
    return json_reply({"error": {"code": 404, "message": f"no method {method}", "status": "NOT_FOUND"}}, 404)


def routes() -> list[Route]:
    return [("POST", _PATH, models)]
