"""Pure functions from OpenAI requests and Responses API results and events to span facts.

Chat completions, their chunks and embeddings are OpenAI-compatible payloads,
read by :mod:`otel_carbon.instrumentations._shared.openai_compatible` (LiteLLM
and Mistral AI share those readers); what is OpenAI's own is here: the
request of a client call and the Responses API.  Objects are read by
attribute (``getattr`` with defaults), so a field an OpenAI-compatible server
leaves out, or garbage it sends, yields ``None`` rather than an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response
from otel_carbon.instrumentations._shared.fields import count as _int
from otel_carbon.instrumentations._shared.fields import get_path as _get
from otel_carbon.instrumentations._shared.request import request_from_call


def request(operation: str, resource: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """The span's start facts for ``operation`` called with ``kwargs`` on an SDK ``resource``."""
    return request_from_call(
        operation,
        sc.PROVIDER_OPENAI,
        getattr(resource, "_client", None),
        kwargs,
        max_tokens_keys=("max_completion_tokens", "max_tokens", "max_output_tokens"),
        content_keys=("messages", "input"),
    )


def responses_response(result: Any) -> Response:
    """Facts of a Responses API ``Response``."""
    usage = _get(result, "usage")
    status = _get(result, "status")
    return Response(
        model=_get(result, "model"),
        response_id=_get(result, "id"),
        finish_reasons=[str(status)] if status else [],
        input_tokens=_int(_get(usage, "input_tokens")),
        output_tokens=_int(_get(usage, "output_tokens")),
        cache_read_tokens=_int(_get(usage, "input_tokens_details", "cached_tokens")),
        reasoning_tokens=_int(_get(usage, "output_tokens_details", "reasoning_tokens")),
    )


class ResponseEvents:
    """Accumulates Responses API stream events; the ``response.completed`` event carries usage."""

    def __init__(self) -> None:
        self._final: Any = None

    def add(self, event: Any) -> None:
        if _get(event, "type") in ("response.completed", "response.incomplete", "response.failed"):
            self._final = _get(event, "response")

    def response(self) -> Response:
        return responses_response(self._final) if self._final is not None else Response()
