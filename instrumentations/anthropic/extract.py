"""Pure functions from Anthropic requests, messages and stream events to span facts.

Anthropic's ``usage.input_tokens`` excludes cache reads and cache writes; the
GenAI conventions count them inside input tokens, so they are added back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content
from otel_carbon.instrumentations._shared.fields import count
from otel_carbon.instrumentations._shared.fields import get_path as _get
from otel_carbon.instrumentations._shared.invocation import finish_reasons
from otel_carbon.instrumentations._shared.request import request_from_call


def _int(value: Any) -> int:
    return count(value) or 0


def request(resource: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """The span's start facts for ``messages.create(**kwargs)`` on an SDK ``resource``."""
    return request_from_call("chat", sc.PROVIDER_ANTHROPIC, getattr(resource, "_client", None), kwargs)


def usage_response(model: Any, message_id: Any, stop_reason: Any, usage: Any) -> Response:
    """Convention token counts from an Anthropic ``usage`` object."""
    cache_read = _int(_get(usage, "cache_read_input_tokens"))
    cache_write = _int(_get(usage, "cache_creation_input_tokens"))
    return Response(
        model=model,
        response_id=message_id,
        finish_reasons=finish_reasons([stop_reason]),
        input_tokens=_int(_get(usage, "input_tokens")) + cache_read + cache_write if usage is not None else None,
        output_tokens=_int(_get(usage, "output_tokens")) if usage is not None else None,
        cache_read_tokens=cache_read if usage is not None else None,
        cache_write_tokens=cache_write if usage is not None else None,
    )


def message_response(message: Any) -> Response:
    """Facts of a ``Message``."""
    response = usage_response(_get(message, "model"), _get(message, "id"), _get(message, "stop_reason"), _get(message, "usage"))
    if capture_content():
        texts = [_get(block, "text") for block in _get(message, "content") or ()]
        response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(texts, default=str)
    return response


class MessageEvents:
    """Accumulates raw stream events: ``message_start`` carries input usage, ``message_delta`` the output."""

    def __init__(self) -> None:
        self._model: Any = None
        self._id: Any = None
        self._stop: Any = None
        self._usage: dict[str, int] = {}

    def add(self, event: Any) -> None:
        kind = _get(event, "type")
        if kind == "message_start":
            message = _get(event, "message")
            self._model, self._id = _get(message, "model"), _get(message, "id")
            self._merge(_get(message, "usage"))
        elif kind == "message_delta":
            self._stop = _get(_get(event, "delta"), "stop_reason") or self._stop
            self._merge(_get(event, "usage"))

    def _merge(self, usage: Any) -> None:
        for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            value = _get(usage, name)
            if isinstance(value, int):
                self._usage[name] = value  # later events carry cumulative counts

    def response(self) -> Response:
        return usage_response(self._model, self._id, self._stop, self._usage or None)
