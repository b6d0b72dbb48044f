"""Stream proxies that feed an accumulator and end their span exactly once.

The span ends when the stream is drained, closed (``close()`` / ``aclose()``,
which is what a ``break`` followed by closing does), left through its context
manager, garbage-collected while still open, or fails mid-stream.  Whatever
happens first wins; the :class:`Invocation` ignores later endings.  The proxy
otherwise behaves as the SDK stream it wraps (``wrapt.ObjectProxy``).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import wrapt

from otel_carbon._log import log_once
from otel_carbon.instrumentations._shared.invocation import Invocation, Response

_logger = logging.getLogger(__name__)


class Accumulator(Protocol):
    """Collects what a stream's chunks say about the response."""

    def add(self, chunk: Any) -> None: ...

    def response(self) -> Response: ...


class _StreamEnd:
    """Shared ending logic of both proxies (a mixin over ``wrapt.ObjectProxy``)."""

    _self_invocation: Invocation
    _self_accumulator: Accumulator

    def _self_add(self, chunk: Any) -> None:
        try:
            self._self_accumulator.add(chunk)
        except Exception:  # a chunk we cannot read must not break the caller's stream
            name = type(self._self_accumulator).__qualname__
            log_once(_logger, f"stream-chunk:{name}", "otel-carbon could not read a stream chunk (%s)", name,
                     exc_info=True)

    def _self_finish(self) -> None:
        if self._self_invocation.ended:
            return
        try:
            response = self._self_accumulator.response()
        except Exception:
            name = type(self._self_accumulator).__qualname__
            log_once(_logger, f"stream-response:{name}", "otel-carbon could not summarise a stream (%s)", name,
                     exc_info=True)
            response = None
        self._self_invocation.finish(response)

    def _self_fail(self, error: BaseException) -> None:
        self._self_invocation.fail(error)

    def __del__(self) -> None:  # abandoned without being drained or closed
        self._self_finish()


class SyncStream(_StreamEnd, wrapt.ObjectProxy):  # type: ignore[misc]
    """Proxy of a synchronous SDK stream."""

    def __init__(self, wrapped: Any, invocation: Invocation, accumulator: Accumulator) -> None:
        super().__init__(wrapped)
        self._self_invocation = invocation
        self._self_accumulator = accumulator

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._self_finish()
            raise
        except Exception as error:
            self._self_fail(error)
            raise
        self._self_add(chunk)
        return chunk

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_finish()

    def __enter__(self) -> SyncStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            if exc is not None:
                self._self_fail(exc)
            else:
                self._self_finish()


class AsyncStream(_StreamEnd, wrapt.ObjectProxy):  # type: ignore[misc]
    """Proxy of an asynchronous SDK stream."""

    def __init__(self, wrapped: Any, invocation: Invocation, accumulator: Accumulator) -> None:
        super().__init__(wrapped)
        self._self_invocation = invocation
        self._self_accumulator = accumulator

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_finish()
            raise
        except Exception as error:
            self._self_fail(error)
            raise
        self._self_add(chunk)
        return chunk

    async def close(self) -> None:
        """Close the SDK stream (``close()`` of SDK streams, ``aclose()`` of async generators)."""
        closer = getattr(self.__wrapped__, "aclose", None) or self.__wrapped__.close
        try:
            await closer()
        finally:
            self._self_finish()

    async def aclose(self) -> None:
        await self.close()

    async def __aenter__(self) -> AsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            if exc is not None:
                self._self_fail(exc)
            else:
                self._self_finish()
