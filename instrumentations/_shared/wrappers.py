"""Generic wrapt wrappers for an SDK's ``create()``-style method: one span per call.

An SDK instrumentation supplies three pure pieces: ``start(client, kwargs) ->
Request``, ``finish(result) -> Response`` and an accumulator class for streams
(see :mod:`.stream`).  ``prepare`` may rewrite the call's kwargs first (an
opt-in such as OpenAI's ``include_usage``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from opentelemetry import trace
from opentelemetry.trace import Tracer

from otel_carbon.instrumentations._shared.invocation import Invocation, Request, Response
from otel_carbon.instrumentations._shared.stream import Accumulator, AsyncStream, SyncStream

Start = Callable[[Any, Mapping[str, Any]], Request]
Finish = Callable[[Any], Response]
Prepare = Callable[[dict[str, Any]], dict[str, Any]]
Wrapper = Callable[[Callable[..., Any], Any, tuple, dict[str, Any]], Any]


def _same(kwargs: dict[str, Any]) -> dict[str, Any]:
    return kwargs


def sync_wrapper(
    tracer: Tracer, start: Start, finish: Finish, accumulator: Callable[[], Accumulator], prepare: Prepare = _same
) -> Wrapper:
    """Wrap a synchronous call: span around it, its stream proxied, its error recorded and re-raised."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        kwargs = prepare(kwargs)
        invocation = Invocation(tracer, start(getattr(instance, "_client", None), kwargs))
        try:
            with trace.use_span(invocation.span, end_on_exit=False):
                result = wrapped(*args, **kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        if invocation.request.stream:
            return SyncStream(result, invocation, accumulator())
        invocation.finish(finish(result))
        return result

    return wrapper


def async_wrapper(
    tracer: Tracer, start: Start, finish: Finish, accumulator: Callable[[], Accumulator], prepare: Prepare = _same
) -> Callable[..., Awaitable[Any]]:
    """Wrap an asynchronous call, as :func:`sync_wrapper` does a synchronous one."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        kwargs = prepare(kwargs)
        invocation = Invocation(tracer, start(getattr(instance, "_client", None), kwargs))
        try:
            with trace.use_span(invocation.span, end_on_exit=False):
                result = await wrapped(*args, **kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        if invocation.request.stream:
            return AsyncStream(result, invocation, accumulator())
        invocation.finish(finish(result))
        return result

    return wrapper
