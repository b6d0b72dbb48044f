"""One GenAI call's span, from the request to the response or the error, ended exactly once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import baggage
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_carbon import accounting
from otel_carbon import semconv as sc
from otel_carbon._log import log_once
from otel_carbon.energy import MeasurementWindow, default_meter
from otel_carbon.instrumentations._shared.estimated import estimated_usage

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
    #: Characters of prompt text, kept for a stream that may report no usage (not a span attribute).
    input_chars: int | None = None

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
    #: Characters of streamed text, for estimating the counts when the stream reported none.
    output_chars: int | None = None

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
    window from the process meter; its measurement goes on the span.  At the
    end of the call, before the span ends, the call is counted by the process's
    accountant (:mod:`otel_carbon.accounting`) — whether or not the span is
    sampled — and the carbon it returns is written on the span.  Nothing here
    raises into the caller: a failure to record is logged once and the call proceeds.
    """

    def __init__(self, tracer: Tracer, request: Request, *, kind: SpanKind = SpanKind.CLIENT) -> None:
        self.request = request
        self._ended = False
        self._lock = threading.Lock()
        self._attributes = request.span_attributes()
        self.span: Span = tracer.start_span(request.span_name, kind=kind, attributes=self._attributes)
        self._baggage = _wanted_baggage(accounting.current())
        self._window: MeasurementWindow | None = default_meter().start() if request.local else None

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
                attributes = response.span_attributes()
                if response.input_tokens is None and response.output_tokens is None and response.output_chars:
                    attributes.update(estimated_usage(self.request.input_chars or 0, response.output_chars))
                self.span.set_attributes(attributes)
                self._attributes.update(attributes)
            self._record_energy(response)
            self._account()
        except Exception:  # never break the caller
            log_once(_logger, f"finish:{self.request.provider}", "otel-carbon could not record a GenAI response (%s)",
                     self.request.provider, exc_info=True)
        finally:
            self.span.end()

    def fail(self, error: BaseException) -> None:
        """Record ``error`` (type, status) and end the span; the caller re-raises it."""
        if not self._claim_end():
            return
        try:
            self.span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
            self._attributes[sc.ERROR_TYPE] = type(error).__qualname__
            self._record_energy(None)
            self._account()
        except Exception:
            log_once(_logger, f"fail:{self.request.provider}", "otel-carbon could not record a GenAI error (%s)",
                     self.request.provider, exc_info=True)
        finally:
            self.span.end()

    def _record_energy(self, response: Response | None) -> None:
        if self._window is None:
            return
        tokens = None
        if response is not None and response.output_tokens is not None:
            tokens = (response.input_tokens or 0) + response.output_tokens
        elif sc.GEN_AI_USAGE_OUTPUT_TOKENS in self._attributes:  # estimated from the streamed text
            tokens = self._attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] + self._attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS]
        measurement = self._window.stop(tokens=tokens)
        if measurement is not None:
            attributes = measurement.span_attributes()
            self.span.set_attributes(attributes)
            self._attributes.update(attributes)

    def _account(self) -> None:
        """Count the call (sampled or not) and put its carbon on the span."""
        accountant = accounting.current()
        if accountant is None:
            return
        context = self.span.get_span_context()
        carbon = accountant.account_call(
            self._attributes,
            trace_id=context.trace_id,
            span_id=context.span_id,
            end_time_ns=time.time_ns(),
            baggage=self._baggage,
        )
        if carbon and self.span.is_recording():
            self.span.set_attributes(carbon)


def _wanted_baggage(accountant: accounting.Accountant | None) -> Mapping[str, Any] | None:
    """The baggage entries the accountant uses as metric dimensions, captured where the call starts."""
    if accountant is None or not accountant.dimension_keys:
        return None
    entries = baggage.get_all()
    return {key: entries[key] for key in accountant.dimension_keys if key in entries} or None


def finish_reasons(values: Sequence[Any]) -> list[str]:
    """Finish reasons as strings, ``None`` entries dropped."""
    return [str(v) for v in values if v is not None]
