"""Generic wrapt wrappers for an SDK's ``create()``-style method: one span per call.

An SDK instrumentation supplies three pure pieces: ``start(instance, args,
kwargs) -> Request`` (``instance`` is the object whose method is wrapped),
``finish(result) -> Response`` and an accumulator class for streams (see
:mod:`.stream`).  When the request says ``stream``, the result is handed to
``proxy`` (default: the result itself is the stream, wrapped in
:class:`SyncStream` / :class:`AsyncStream`).  ``prepare`` may rewrite the
call's kwargs first (an opt-in such as OpenAI's ``include_usage``).

A call made inside another call we already trace (LiteLLM calling the OpenAI
SDK, a framework calling an SDK we also wrap) gets no second span: the outer
span accounts for the work, so its carbon is counted once.

A failure of any of these pieces is logged once and the call proceeds
unchanged (without a span if ``start`` failed, with an unannotated span if
``finish`` or ``proxy`` did): instrumentation never breaks the host app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Tracer

from otel_carbon._log import log_once
from otel_carbon.accounting import INSIDE_COUNTED_CALL
from otel_carbon.instrumentations._shared.invocation import Invocation, Request, Response
from otel_carbon.instrumentations._shared.stream import Accumulator, AsyncStream, SyncStream

Start = Callable[[Any, tuple, Mapping[str, Any]], Request]
Finish = Callable[[Any], Response]
Prepare = Callable[[dict[str, Any]], dict[str, Any]]
Wrapper = Callable[[Callable[..., Any], Any, tuple, dict[str, Any]], Any]
Proxy = Callable[[Any, Invocation, Accumulator], Any]

_logger = logging.getLogger(__name__)


def _same(kwargs: dict[str, Any]) -> dict[str, Any]:
    return kwargs


def _open(
    tracer: Tracer, start: Start, instance: Any, args: tuple, kwargs: dict[str, Any], kind: SpanKind
) -> Invocation | None:
    if context.get_value(INSIDE_COUNTED_CALL) or not is_instrumentation_enabled():
        return None  # inside a call we already trace, or instrumentation suppressed by the caller
    try:
        return Invocation(tracer, start(instance, args, kwargs), kind=kind)
    except Exception:
        log_once(_logger, f"start:{_origin(start)}", "otel-carbon could not open a GenAI span (%s); the call "
                 "proceeds untraced", _origin(start), exc_info=True)
        return None


def _origin(function: Any) -> str:
    """The module an extractor comes from (a ``functools.partial`` is unwrapped): one log key per SDK."""
    return str(getattr(function, "__module__", None) or getattr(getattr(function, "func", None), "__module__", "?"))


@contextmanager
def _inside(invocation: Invocation) -> Iterator[None]:
    """The invocation's span is current, and nested SDK calls know they are inside it."""
    token = context.attach(trace.set_span_in_context(invocation.span, context.set_value(INSIDE_COUNTED_CALL, True)))
    try:
        yield
    finally:
        context.detach(token)


def _prepare(prepare: Prepare, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        return prepare(kwargs)
    except Exception:
        log_once(_logger, f"prepare:{_origin(prepare)}", "otel-carbon could not prepare a GenAI request (%s)",
                 _origin(prepare), exc_info=True)
        return kwargs


def _settle(
    invocation: Invocation, result: Any, finish: Finish, proxy: Proxy, accumulator: Callable[[], Accumulator] | None
) -> Any:
    """The result handed back to the caller: a stream proxy, or ``result`` once its span is finished."""
    try:
        if invocation.request.stream and accumulator is not None:
            return proxy(result, invocation, accumulator())
        response = finish(result)
    except Exception:
        provider = invocation.request.provider
        log_once(_logger, f"settle:{provider}", "otel-carbon could not read a GenAI result (%s)", provider, exc_info=True)
        response = None
    invocation.finish(response)
    return result


def sync_wrapper(
    tracer: Tracer,
    start: Start,
    finish: Finish,
    accumulator: Callable[[], Accumulator] | None = None,
    prepare: Prepare = _same,
    proxy: Proxy = SyncStream,
    kind: SpanKind = SpanKind.CLIENT,
) -> Wrapper:
    """Wrap a synchronous call: span around it, its stream proxied, its error recorded and re-raised.

    ``kind`` is CLIENT for a call to a server, INTERNAL for in-process inference.
    """

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        kwargs = _prepare(prepare, kwargs)
        invocation = _open(tracer, start, instance, args, kwargs, kind)
        if invocation is None:
            return wrapped(*args, **kwargs)
        try:
            with _inside(invocation):
                result = wrapped(*args, **kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        return _settle(invocation, result, finish, proxy, accumulator)

    return wrapper


def async_wrapper(
    tracer: Tracer,
    start: Start,
    finish: Finish,
    accumulator: Callable[[], Accumulator] | None = None,
    prepare: Prepare = _same,
    proxy: Proxy = AsyncStream,
    kind: SpanKind = SpanKind.CLIENT,
) -> Callable[..., Awaitable[Any]]:
    """Wrap an asynchronous call, as :func:`sync_wrapper` does a synchronous one."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        kwargs = _prepare(prepare, kwargs)
        invocation = _open(tracer, start, instance, args, kwargs, kind)
        if invocation is None:
            return await wrapped(*args, **kwargs)
        try:
            with _inside(invocation):
                result = await wrapped(*args, **kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        return _settle(invocation, result, finish, proxy, accumulator)

    return wrapper
