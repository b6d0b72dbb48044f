"""Building a :class:`Request` from an SDK call's client and keyword arguments."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.estimate.tokens import text_chars
from otel_carbon.instrumentations._shared.content import capture_content
from otel_carbon.instrumentations._shared.endpoint import provider_from_base_url
from otel_carbon.instrumentations._shared.invocation import Request


def _first(kwargs: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if kwargs.get(name) is not None:
            return kwargs[name]
    return None


def request_from_call(
    operation: str,
    default_provider: str,
    client: Any,
    kwargs: Mapping[str, Any],
    *,
    max_tokens_keys: Sequence[str] = ("max_tokens",),
    content_keys: Sequence[str] = ("messages",),
) -> Request:
    """Start facts of a call: endpoint from ``client.base_url``, model, stream flag and
    request parameters from ``kwargs``; the prompt only when content capture is on."""
    endpoint = provider_from_base_url(getattr(client, "base_url", None), default_provider)
    attributes: dict[str, Any] = {
        sc.GEN_AI_REQUEST_MAX_TOKENS: _first(kwargs, max_tokens_keys),
        sc.GEN_AI_REQUEST_TEMPERATURE: kwargs.get("temperature"),
        sc.GEN_AI_REQUEST_TOP_P: kwargs.get("top_p"),
    }
    content = _first(kwargs, content_keys)
    if content is not None and capture_content():
        attributes[sc.GEN_AI_INPUT_MESSAGES] = json.dumps(content, default=str)
    stream = bool(kwargs.get("stream"))
    return Request(
        operation=operation,
        provider=endpoint.provider,
        model=kwargs.get("model"),
        server_address=endpoint.address,
        server_port=endpoint.port,
        stream=stream,
        local=endpoint.local,
        attributes={k: v for k, v in attributes.items() if v is not None},
        input_chars=text_chars(content) if stream else None,
    )
