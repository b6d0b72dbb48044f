"""Pure functions from Ollama client calls, responses and stream parts to span facts.

Ollama reports usage as ``prompt_eval_count`` (input tokens) and
``eval_count`` (output tokens) on a response, or on the final part of a
stream (``"done": true``), with ``done_reason`` as the finish reason.
Sampling parameters live in ``options`` (``num_predict`` caps the output
tokens).  Its durations (ns) are not recorded: the GenAI conventions have no
span attribute for server-side timings, and the energy window times the call.

A call to a loopback host is local inference (its energy is measured), except
for Ollama's cloud models (tag ``cloud`` or ``…-cloud``, e.g.
``gpt-oss:120b-cloud``), which the local server forwards to ollama.com.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content
from otel_carbon.instrumentations._shared.fields import count, get_path
from otel_carbon.instrumentations._shared.invocation import finish_reasons
from otel_carbon.instrumentations._shared.request import request_from_call

# Request fields that hold the prompt, by method: chat, generate / embeddings, embed.
_CONTENT_KEYS = ("messages", "prompt", "input")


def call_arguments(positional: Sequence[str], args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments by name: ``chat('llama3', msgs)`` names ``model`` and ``messages``."""
    return {**dict(zip(positional, args)), **kwargs}


def is_cloud_model(model: Any) -> bool:
    """True for Ollama cloud models (``gemma4:cloud``, ``gpt-oss:120b-cloud``), which run at ollama.com."""
    if not isinstance(model, str) or ":" not in model:
        return False
    tag = model.rsplit(":", 1)[1]
    return tag == "cloud" or tag.endswith("-cloud")


def request(operation: str, positional: Sequence[str], client: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """The span's start facts of ``operation`` on an ollama ``Client`` / ``AsyncClient``.

    ``positional`` names the method's positional parameters (after ``self``).
    """
    call = call_arguments(positional, args, kwargs)
    options = call.get("options")
    flat = {
        "model": call.get("model") or None,
        "stream": call.get("stream"),
        "max_tokens": get_path(options, "num_predict"),
        "temperature": get_path(options, "temperature"),
        "top_p": get_path(options, "top_p"),
        **{key: call[key] for key in _CONTENT_KEYS if key in call},
    }
    facts = request_from_call(
        operation, sc.PROVIDER_OLLAMA, getattr(client, "_client", None), flat, content_keys=_CONTENT_KEYS
    )
    # Whatever port it listens on, the server this client speaks to is Ollama.
    local = facts.local and not is_cloud_model(facts.model)
    return dataclasses.replace(facts, provider=sc.PROVIDER_OLLAMA, local=local)


def _generation(result: Any, text: Callable[[Any], Any]) -> Response:
    response = Response(
        model=get_path(result, "model"),
        finish_reasons=finish_reasons([get_path(result, "done_reason")]),
        input_tokens=count(get_path(result, "prompt_eval_count")),
        output_tokens=count(get_path(result, "eval_count")),
    )
    if capture_content():
        response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps([text(result)], default=str)
    return response


def chat_response(result: Any) -> Response:
    """Facts of a ``ChatResponse`` (or the final part of a chat stream)."""
    return _generation(result, lambda r: get_path(r, "message", "content"))


def generate_response(result: Any) -> Response:
    """Facts of a ``GenerateResponse`` (or the final part of a generate stream)."""
    return _generation(result, lambda r: get_path(r, "response"))


def embed_response(result: Any) -> Response:
    """Facts of an ``EmbedResponse``; the deprecated ``EmbeddingsResponse`` reports nothing to read."""
    return Response(model=get_path(result, "model"), input_tokens=count(get_path(result, "prompt_eval_count")))


class StreamParts:
    """Accumulates the parts of a stream; the final one (``done``) carries the counts."""

    def __init__(self, final: Callable[[Any], Response]) -> None:
        self._final_response = final
        self._model: Any = None
        self._final: Any = None

    def add(self, part: Any) -> None:
        self._model = get_path(part, "model") or self._model
        if get_path(part, "done"):
            self._final = part

    def response(self) -> Response:
        if self._final is None:
            return Response(model=self._model)
        response = self._final_response(self._final)
        response.attributes.pop(sc.GEN_AI_OUTPUT_MESSAGES, None)  # the final part's text is only its last fragment
        return response
