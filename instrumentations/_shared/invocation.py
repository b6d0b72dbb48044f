"""One GenAI call's span, from the request to the response or the error, ended exactly once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_carbon import semconv as sc
from otel_carbon._log import log_once
from otel_carbon.energy import Window, default_meter

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """What is known when the call starts (the attributes sampling may use)."""

    operation: str
    provider: str
    model: str | None
    server_address: str | None = None
    server_port: int | None = None
    stream: bool = False
    local: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def span_name(self) -> str:
        return f"{self.operation} {self.model}" if self.model else self.operation

    def span_attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: self.operation,
            sc.GEN_AI_PROVIDER_NAME: self.provider,
        }
        if self.model:
            attributes[sc.GEN_AI_REQUEST_MODEL] = self.model
        if self.server_address:
            attributes[sc.SERVER_ADDRESS] = self.server_address
        if self.server_port:
            attributes[sc.SERVER_PORT] = self.server_port
        if self.stream:
            attributes[sc.GEN_AI_REQUEST_STREAM] = True
        attributes.update({k: v for k, v in self.attributes.items() if v is not None})
        return attributes


@dataclass
class Response:
    """What the response said, as the GenAI conventions count it.

    ``input_tokens`` includes cached and cache-write tokens; ``reasoning_tokens``
    is a subset of ``output_tokens``.  ``None`` means not reported.
    """

    model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def span_attributes(self) -> dict[str, Any]:
        pairs = (
            (sc.GEN_AI_RESPONSE_MODEL, self.model),
            (sc.GEN_AI_RESPONSE_ID, self.response_id),
            (sc.GEN_AI_USAGE_INPUT_TOKENS, self.input_tokens),
            (sc.GEN_AI_USAGE_OUTPUT_TOKENS, self.output_tokens),
            (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, self.cache_read_tokens),
            (sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, self.cache_write_tokens),
            (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, self.reasoning_tokens),
        )
        attributes: dict[str, Any] = {key: value for key, value in pairs if value is not None}
        if self.finish_reasons:
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(self.finish_reasons)
        attributes.update({k: v for k, v in self.attributes.items() if v is not None})
        return attributes


class Invocation:
    """The span of one call: opened now, ended by :meth:`finish` or :meth:`fail`, exactly once.

    Local calls (a loopback server, in-process inference) open an energy
    window from the process meter; its measurement goes on the span so the
    carbon processor reports measured energy.  Nothing here raises into the
    caller: a failure to record is logged once and the call proceeds.
    """

    def __init__(self, tracer: Tracer, request: Request, *, kind: SpanKind = SpanKind.CLIENT) -> None:
        self.request = request
        self._ended = False
        self._lock = threading.Lock()
        self.span: Span = tracer.start_span(request.span_name, kind=kind, attributes=request.span_attributes())
        self._window: Window | None = default_meter().start() if request.local else None

    @property
    def ended(self) -> bool:
        return self._ended

    def _claim_end(self) -> bool:
        with self._lock:
            if self._ended:
                return False
            self._ended = True
            return True

    def finish(self, response: Response | None) -> None:
        """Record ``response`` (if any) and end the span; later calls do nothing."""
        if not self._claim_end():
            return
        try:
            if response is not None:
                self.span.set_attributes(response.span_attributes())
            self._record_energy(response)
        except Exception:  # never break the caller
            log_once(_logger, "finish", "otel-carbon could not record a GenAI response", exc_info=True)
        finally:
            self.span.end()

    def fail(self, error: BaseException) -> None:
        """Record ``error`` (type, status) and end the span; the caller re-raises it."""
        if not self._claim_end():
            return
        try:
            self.span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
            self._record_energy(None)
        except Exception:
            log_once(_logger, "fail", "otel-carbon could not record a GenAI error", exc_info=True)
        finally:
            self.span.end()

    def _record_energy(self, response: Response | None) -> None:
        if self._window is None:
            return
        tokens = None
        if response is not None and response.output_tokens is not None:
            tokens = (response.input_tokens or 0) + response.output_tokens
        measurement = self._window.stop(tokens=tokens)
        if measurement is not None:
            self.span.set_attributes(measurement.span_attributes())


def finish_reasons(values: Sequence[Any]) -> list[str]:
    """Finish reasons as strings, ``None`` entries dropped."""
    return [str(v) for v in values if v is not None]
