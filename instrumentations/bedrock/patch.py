"""The one seam wrapped, ``botocore.client.BaseClient._make_api_call``, and what is traced through it.

botocore generates its client classes at run time, so their methods cannot be
wrapped ahead of time; every operation of every client goes through
``_make_api_call(operation_name, api_params)``.  The wrapper looks the
operation name up first (one dict lookup) and the service name second, and
hands anything that is not a traced ``bedrock-runtime`` operation straight to
botocore.

``ConverseStream`` returns ``{"stream": EventStream, ...}`` and
``InvokeModelWithResponseStream`` ``{"body": EventStream, ...}``: the stream is
replaced by our :class:`SyncStream` proxy, which ends the span when the events
are drained, the stream is closed or left, or an event fails (a broken CRC, an
exception event).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import wrapt
from opentelemetry.trace import Tracer

from otel_carbon.instrumentations._shared import Invocation, SyncStream
from otel_carbon.instrumentations._shared.stream import Accumulator
from otel_carbon.instrumentations._shared.wrappers import Wrapper, sync_wrapper
from otel_carbon.instrumentations.bedrock import extract

SERVICE = "bedrock-runtime"


class _EventIterator(wrapt.ObjectProxy):  # type: ignore[misc]
    """A botocore ``EventStream`` (iterable, not an iterator) that also answers ``__next__``."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._self_events: Any = None

    def __next__(self) -> Any:
        if self._self_events is None:
            self._self_events = iter(self.__wrapped__)
        return next(self._self_events)


def proxy_event_stream(key: str, result: Any, invocation: Invocation, accumulator: Accumulator) -> Any:
    """``result`` with its event stream ``result[key]`` proxied; a result without one ends the span now."""
    stream = result.get(key) if isinstance(result, dict) else None
    if stream is None:
        invocation.finish(accumulator.response())
        return result
    result[key] = SyncStream(_EventIterator(stream), invocation, accumulator)
    return result


# operation → (extractor of the result, accumulator of its events, key of its event stream in the result)
OPERATIONS: dict[str, tuple[Callable[[Any], Any], type[Accumulator] | None, str | None]] = {
    "Converse": (extract.converse_response, None, None),
    "ConverseStream": (extract.converse_response, extract.ConverseStreamEvents, "stream"),
    "InvokeModel": (extract.invoke_response, None, None),
    "InvokeModelWithResponseStream": (extract.invoke_response, extract.InvocationMetrics, "body"),
}


def make_api_call_wrapper(tracer: Tracer) -> Wrapper:
    """The wrapper of ``BaseClient._make_api_call``: spans for the :data:`OPERATIONS` of ``bedrock-runtime`` only."""
    traced: dict[str, Wrapper] = {
        operation: sync_wrapper(
            tracer, extract.request, finish, accumulator,
            proxy=partial(proxy_event_stream, key) if key else SyncStream,
        )
        for operation, (finish, accumulator, key) in OPERATIONS.items()
    }

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        operation = args[0] if args else kwargs.get("operation_name")
        call = traced.get(operation) if isinstance(operation, str) else None
        if call is None or _service(instance) != SERVICE:
            return wrapped(*args, **kwargs)
        return call(wrapped, instance, args, kwargs)

    return wrapper


def _service(client: Any) -> str | None:
    try:
        return client.meta.service_model.service_name  # type: ignore[no-any-return]
    except AttributeError:
        return None
