"""Pure functions from ``google-genai`` calls, responses and stream chunks to span facts.

Token counts, as the GenAI conventions count them (input includes cached
tokens; reasoning is a subset of output):

* input = ``prompt_token_count`` + ``tool_use_prompt_token_count``.  Gemini's
  prompt count already includes the cached prefix
  (``cached_content_token_count``, also recorded as cache reads); tool-use
  prompt tokens (e.g. search results fed back to the model) are input the
  model processes too.
* output = ``candidates_token_count`` + ``thoughts_token_count``.  Gemini
  reports the thinking apart from the answer (``total_token_count`` is their
  sum with the prompt); both are generated tokens, so output includes the
  thoughts, which are also recorded as reasoning tokens.

Streamed chunks carry running totals (the SDK sums them across automatic
continuation hops), so the latest usage wins.  Finish reasons are the API's
``FinishReason`` values in lower case (``STOP`` → ``stop``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content, provider_from_base_url
from otel_carbon.instrumentations._shared.content import content_json
from otel_carbon.instrumentations._shared.fields import count, get_path


def _sum(*values: int | None) -> int | None:
    """Sum of the reported counts; ``None`` when none was reported."""
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def request(operation: str, stream: bool, models: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """Start facts of ``operation`` called on ``models`` (``Models`` / ``AsyncModels``).

    The SDK takes keyword arguments only (``model=``, ``contents=``,
    ``config=``).  The endpoint is the call's ``config.http_options.base_url``
    or the client's; the provider is Vertex AI when the client is a
    ``vertexai`` client, else the Gemini Developer API.
    """
    api_client = getattr(models, "_api_client", None)
    config = kwargs.get("config")
    base_url = get_path(config, "http_options", "base_url") or get_path(api_client, "_http_options", "base_url")
    provider = sc.PROVIDER_GCP_VERTEX_AI if getattr(api_client, "vertexai", False) else sc.PROVIDER_GCP_GEMINI
    endpoint = provider_from_base_url(base_url, provider)
    attributes: dict[str, Any] = {
        sc.GEN_AI_REQUEST_MAX_TOKENS: get_path(config, "max_output_tokens"),
        sc.GEN_AI_REQUEST_TEMPERATURE: get_path(config, "temperature"),
        sc.GEN_AI_REQUEST_TOP_P: get_path(config, "top_p"),
    }
    if capture_content():
        if kwargs.get("contents") is not None:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = content_json(kwargs["contents"])
        if get_path(config, "system_instruction") is not None:
            attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content_json(get_path(config, "system_instruction"))
    model = kwargs.get("model")
    return Request(
        operation=operation,
        provider=endpoint.provider,
        model=model if isinstance(model, str) else None,
        server_address=endpoint.address,
        server_port=endpoint.port,
        stream=stream,
        local=endpoint.local,
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def _finish_reason(candidate: Any) -> str | None:
    reason = get_path(candidate, "finish_reason")
    if reason is None:
        return None
    return str(getattr(reason, "value", reason)).lower()


def _candidate_text(candidate: Any) -> str:
    parts = get_path(candidate, "content", "parts") or ()
    return "".join(text for text in (get_path(part, "text") for part in parts) if isinstance(text, str))


def usage_response(model: Any, response_id: Any, finish_reasons: list[str], usage: Any) -> Response:
    """Convention token counts from a ``usage_metadata`` object (see the module docstring)."""
    thoughts = count(get_path(usage, "thoughts_token_count"))
    return Response(
        model=model if isinstance(model, str) else None,
        response_id=response_id if isinstance(response_id, str) else None,
        finish_reasons=finish_reasons,
        input_tokens=_sum(count(get_path(usage, "prompt_token_count")),
                          count(get_path(usage, "tool_use_prompt_token_count"))),
        output_tokens=_sum(count(get_path(usage, "candidates_token_count")), thoughts),
        cache_read_tokens=count(get_path(usage, "cached_content_token_count")),
        reasoning_tokens=thoughts,
    )


def content_response(result: Any) -> Response:
    """Facts of a ``GenerateContentResponse``."""
    candidates = get_path(result, "candidates") or ()
    reasons = [reason for reason in map(_finish_reason, candidates) if reason is not None]
    response = usage_response(get_path(result, "model_version"), get_path(result, "response_id"), reasons,
                              get_path(result, "usage_metadata"))
    if capture_content():
        response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps([_candidate_text(c) for c in candidates])
    return response



def embeddings_response(result: Any) -> Response:
    """Facts of an ``EmbedContentResponse``: input tokens from ``usage_metadata``, else the
    sum of the per-input ``statistics.token_count`` (Vertex AI's text-embedding models)."""
    tokens = count(get_path(result, "usage_metadata", "prompt_token_count"))
    if tokens is None:
        per_input = [count(get_path(e, "statistics", "token_count")) for e in get_path(result, "embeddings") or ()]
        if per_input and None not in per_input:
            tokens = sum(per_input)  # type: ignore[arg-type]
    return Response(input_tokens=tokens)


class ContentChunks:
    """Accumulates streamed ``GenerateContentResponse`` chunks: the latest usage (running totals),
    the first model version and response id, the last finish reason of each candidate."""

    def __init__(self) -> None:
        self._model: Any = None
        self._id: Any = None
        self._usage: Any = None
        self._reasons: dict[int, str] = {}
        self._texts: dict[int, list[str]] = {}
        self._capture = capture_content()

    def add(self, chunk: Any) -> None:
        self._model = self._model or get_path(chunk, "model_version")
        self._id = self._id or get_path(chunk, "response_id")
        self._usage = get_path(chunk, "usage_metadata") or self._usage
        for position, candidate in enumerate(get_path(chunk, "candidates") or ()):
            index = get_path(candidate, "index")
            index = index if isinstance(index, int) else position
            reason = _finish_reason(candidate)
            if reason is not None:
                self._reasons[index] = reason
            if self._capture:
                self._texts.setdefault(index, []).append(_candidate_text(candidate))

    def response(self) -> Response:
        response = usage_response(self._model, self._id, [self._reasons[i] for i in sorted(self._reasons)],
                                  self._usage)
        if self._capture:
            response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
                ["".join(self._texts[i]) for i in sorted(self._texts)])
        return response
