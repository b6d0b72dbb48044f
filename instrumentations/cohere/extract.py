"""Pure functions from ``cohere`` v2 calls, responses and stream events to span facts.

Token counts come from ``usage.tokens`` (what the model processed: the input
includes the chat template and system preamble Cohere adds), falling back to
``usage.billed_units`` when a response carries only those (embeddings do).
``cached_tokens`` (prompt tokens served from the inference cache) are part of
the input and also recorded as cache reads.  Cohere reports no model in its
responses, and its counts arrive as JSON numbers the SDK types as ``float``.
Finish reasons are Cohere's values in lower case (``COMPLETE`` → ``complete``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content, provider_from_base_url
from otel_carbon.instrumentations._shared.content import content_json
from otel_carbon.instrumentations._shared.fields import count, get_path

#: SDK clients that reach Cohere models hosted by another cloud, by class name → provider.
#: Their ``base_url`` is a placeholder (the request is re-signed and re-addressed in an httpx hook).
HOSTED_CLIENTS = {
    "BedrockClientV2": sc.PROVIDER_AWS_BEDROCK,
    "SagemakerClientV2": sc.PROVIDER_AWS_SAGEMAKER,
    "OciClientV2": sc.PROVIDER_OCI_GENERATIVE_AI,
}




def request(operation: str, stream: bool, client: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """Start facts of ``operation`` called on a v2 ``client`` (``V2Client`` / ``AsyncV2Client``,
    which ``ClientV2`` / ``AsyncClientV2`` are); the SDK takes keyword arguments only."""
    hosted = next((HOSTED_CLIENTS[c.__name__] for c in type(client).__mro__ if c.__name__ in HOSTED_CLIENTS), None)
    if hosted is not None:
        provider, address, port, local = hosted, None, None, False
    else:
        wrapper = get_path(client, "_raw_client", "_client_wrapper")
        endpoint = provider_from_base_url(wrapper.get_base_url() if wrapper is not None else None, sc.PROVIDER_COHERE)
        provider, address, port, local = endpoint.provider, endpoint.address, endpoint.port, endpoint.local
    attributes: dict[str, Any] = {
        sc.GEN_AI_REQUEST_MAX_TOKENS: kwargs.get("max_tokens"),
        sc.GEN_AI_REQUEST_TEMPERATURE: kwargs.get("temperature"),
        sc.GEN_AI_REQUEST_TOP_P: kwargs.get("p"),
    }
    if capture_content():
        content = kwargs.get("messages", kwargs.get("texts"))
        if content is not None:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = content_json(content)
    model = kwargs.get("model")
    return Request(
        operation=operation,
        provider=provider,
        model=model if isinstance(model, str) else None,
        server_address=address,
        server_port=port,
        stream=stream,
        local=local,
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def _count(usage: Any, name: str) -> int | None:
    """``usage.tokens.<name>``, else ``usage.billed_units.<name>``."""
    value = count(get_path(usage, "tokens", name))
    return value if value is not None else count(get_path(usage, "billed_units", name))


def usage_response(response_id: Any, finish_reason: Any, usage: Any) -> Response:
    """Convention facts from a chat ``usage`` (or an embedding ``meta``, which has the same fields)."""
    return Response(
        response_id=response_id if isinstance(response_id, str) else None,
        finish_reasons=[str(finish_reason).lower()] if finish_reason is not None else [],
        input_tokens=_count(usage, "input_tokens"),
        output_tokens=_count(usage, "output_tokens"),
        cache_read_tokens=count(get_path(usage, "cached_tokens")),
    )


def _texts(content: Any) -> str:
    return "".join(t for t in (get_path(item, "text") for item in content or ()) if isinstance(t, str))


def chat_response(result: Any) -> Response:
    """Facts of a ``V2ChatResponse``."""
    response = usage_response(get_path(result, "id"), get_path(result, "finish_reason"), get_path(result, "usage"))
    if capture_content():
        response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps([_texts(get_path(result, "message", "content"))])
    return response


def embeddings_response(result: Any) -> Response:
    """Facts of an ``EmbedByTypeResponse``: input tokens from ``meta``; no output tokens."""
    response = usage_response(get_path(result, "id"), None, get_path(result, "meta"))
    response.output_tokens = None
    return response


class ChatEvents:
    """Accumulates v2 chat stream events: ``message-start`` has the id, ``content-delta`` the text,
    ``message-end`` the finish reason and usage."""

    def __init__(self) -> None:
        self._id: Any = None
        self._finish: Any = None
        self._usage: Any = None
        self._text: list[str] = []
        self._capture = capture_content()

    def add(self, event: Any) -> None:
        kind = get_path(event, "type")
        if kind == "message-start":
            self._id = self._id or get_path(event, "id")  # the first: the SDK makes hollow events of bad ones
        elif kind == "message-end":
            self._finish = get_path(event, "delta", "finish_reason")
            self._usage = get_path(event, "delta", "usage")
        elif kind == "content-delta" and self._capture:
            text = get_path(event, "delta", "message", "content", "text")
            if isinstance(text, str):
                self._text.append(text)

    def response(self) -> Response:
        response = usage_response(self._id, self._finish, self._usage)
        if self._capture:
            response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(["".join(self._text)])
        return response
