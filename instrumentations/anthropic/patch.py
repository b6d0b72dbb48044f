"""What the Anthropic instrumentation wraps: ``create`` and ``stream`` of ``Messages`` / ``AsyncMessages``.

``create`` (plain and ``stream=True``) takes the shared wrappers.  The
``messages.stream()`` helper needs its own, here: a span from entering its
manager to the end of the stream.

``client.messages.stream(...)`` returns a manager; the HTTP request happens
when the manager is entered, and the ``MessageStream`` it yields reads raw
events from its ``_raw_stream``.  The manager is proxied: entering opens the
span, and the raw event stream is replaced by our :class:`SyncStream` /
:class:`AsyncStream` proxy, so every way of consuming the helper (iteration,
``text_stream``, ``get_final_message()``, ``until_done()``) feeds the same
accumulator, and leaving the block or closing ends the span exactly once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.trace import Tracer

from otel_carbon._log import log_once
from otel_carbon.instrumentations._shared import AsyncStream, Invocation, Request, SyncStream
from otel_carbon.instrumentations.anthropic import extract

_logger = logging.getLogger(__name__)

MODULE = "anthropic.resources.messages"
CLASSES = ("Messages", "AsyncMessages")

Wrapper = Callable[[Callable[..., Any], Any, tuple, dict[str, Any]], Any]


def _stream_request(instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request | None:
    try:
        return dataclasses.replace(extract.request(instance, args, kwargs), stream=True)
    except Exception:
        log_once(_logger, "anthropic.stream", "otel-carbon could not read a messages.stream() request", exc_info=True)
        return None


def _proxy_raw_stream(message_stream: Any, invocation: Invocation, proxy: type) -> None:
    """Route the helper's raw events through our proxy (or end the span now if the SDK changed shape)."""
    raw = getattr(message_stream, "_raw_stream", None)
    if raw is None:
        log_once(_logger, "anthropic.raw", "otel-carbon: this anthropic version's MessageStream has no raw stream")
        invocation.finish(None)
        return
    message_stream._raw_stream = proxy(raw, invocation, extract.MessageEvents())


class _StreamManager(wrapt.ObjectProxy):  # type: ignore[misc]
    """``MessageStreamManager`` / ``AsyncMessageStreamManager`` whose entry makes the request inside a span.

    Both entries are defined; the SDK manager it wraps supports only its own kind.
    """

    def __init__(self, manager: Any, tracer: Tracer, request: Request) -> None:
        super().__init__(manager)
        self._self_tracer = tracer
        self._self_request = request
        self._self_invocation: Invocation | None = None

    def _self_open(self) -> Invocation:
        self._self_invocation = Invocation(self._self_tracer, self._self_request)
        return self._self_invocation

    def _self_fail_on(self, exc: BaseException | None) -> None:
        if exc is not None and self._self_invocation is not None:
            self._self_invocation.fail(exc)

    def __enter__(self) -> Any:
        invocation = self._self_open()
        try:
            with trace.use_span(invocation.span, end_on_exit=False):
                stream = self.__wrapped__.__enter__()
        except BaseException as error:
            invocation.fail(error)
            raise
        _proxy_raw_stream(stream, invocation, SyncStream)
        return stream

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._self_fail_on(exc)
        return self.__wrapped__.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Any:
        invocation = self._self_open()
        try:
            with trace.use_span(invocation.span, end_on_exit=False):
                stream = await self.__wrapped__.__aenter__()
        except BaseException as error:
            invocation.fail(error)
            raise
        _proxy_raw_stream(stream, invocation, AsyncStream)
        return stream

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._self_fail_on(exc)
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


def stream_helper_wrapper(tracer: Tracer) -> Wrapper:
    """Wrap ``Messages.stream`` / ``AsyncMessages.stream``: the manager comes back proxied."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        request = _stream_request(instance, args, kwargs)
        return manager if request is None else _StreamManager(manager, tracer, request)

    return wrapper
