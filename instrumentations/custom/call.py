"""``model_call``: the span lifecycle of our instrumentations, as a context manager for any SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, TracerProvider, get_tracer

from otel_carbon import __version__
from otel_carbon.accounting import INSIDE_COUNTED_CALL
from otel_carbon.instrumentations._shared.invocation import Invocation, Request, Response
from otel_carbon.locality import is_loopback_host
from otel_carbon.semconv import SCHEMA_URL


class ModelCall:
    """What a ``model_call`` block reports about its call: token counts (as the GenAI conventions
    count them: input includes cached and cache-write tokens), the served model, the response id."""

    def __init__(self, invocation: Invocation) -> None:
        self._invocation = invocation
        self._response = Response()

    @property
    def response(self) -> Response:
        """What has been recorded so far."""
        return self._response

    @property
    def span(self) -> trace.Span:
        """The call's span, for attributes of your own."""
        return self._invocation.span

    def record(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        response_model: str | None = None,
        response_id: str | None = None,
    ) -> None:
        """Record the response's facts; a later call replaces the values it gives."""
        given = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "reasoning_tokens": reasoning_tokens,
            "model": response_model,
            "response_id": response_id,
        }
        for name, value in given.items():
            if value is not None:
                setattr(self._response, name, value)


@contextmanager
def model_call(
    provider: str,
    model: str | None,
    *,
    operation: str = "chat",
    server_address: str | None = None,
    server_port: int | None = None,
    stream: bool = False,
    kind: SpanKind = SpanKind.CLIENT,
    tracer_provider: TracerProvider | None = None,
    attributes: dict[str, Any] | None = None,
) -> Iterator[ModelCall]:
    """One GenAI call as a span, counted at the end of the block (see the package docstring).

    ``provider`` is a ``gen_ai.provider.name`` value (``openai``, ``aws.bedrock``, or your own
    name); ``server_address`` the host the SDK talks to (none for in-process inference: pass
    ``kind=SpanKind.INTERNAL``); ``tracer_provider`` defaults to the global one.
    """
    tracer = get_tracer(__name__, __version__, tracer_provider=tracer_provider, schema_url=SCHEMA_URL)
    request = Request(
        operation=operation,
        provider=provider,
        model=model,
        server_address=server_address,
        server_port=server_port,
        stream=stream,
        local=is_loopback_host(server_address) if server_address else kind is SpanKind.INTERNAL,
        attributes=dict(attributes or {}),
    )
    invocation = Invocation(tracer, request, kind=kind)
    call = ModelCall(invocation)
    token = context.attach(trace.set_span_in_context(invocation.span, context.set_value(INSIDE_COUNTED_CALL, True)))
    try:
        yield call
    except BaseException as error:
        context.detach(token)
        invocation.fail(error)
        raise
    context.detach(token)
    invocation.finish(call.response)
