"""What the transformers instrumentation wraps, ``GenerationMixin.generate`` and
``TextGenerationPipeline.__call__``, and its wrappers of them.

A pipeline call is one span (kind INTERNAL) and one energy window; the
``generate()`` calls it makes inside only add their tokens to it (a context
variable marks the pipeline's scope), so the work is neither counted twice
nor split between nested windows.  A ``generate()`` called on its own is a
span and a window of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer

from otel_carbon._log import log_once
from otel_carbon.instrumentations._shared import Invocation, Response
from otel_carbon.instrumentations.transformers import extract

_logger = logging.getLogger(__name__)

_pipeline_scope: ContextVar[extract.PipelineTokens | None] = ContextVar("otel_carbon_transformers_pipeline", default=None)

Wrapper = Callable[[Callable[..., Any], Any, tuple, dict[str, Any]], Any]


def _response(model: Any, args: tuple, kwargs: dict[str, Any], result: Any) -> Response | None:
    try:
        return extract.generate_response(model, args, kwargs, result)
    except Exception:
        log_once(_logger, "transformers.response", "otel-carbon could not read a generate() result", exc_info=True)
        return None


def _run(invocation: Invocation, wrapped: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
    try:
        with trace.use_span(invocation.span, end_on_exit=False):
            return wrapped(*args, **kwargs)
    except BaseException as error:
        invocation.fail(error)
        raise


def generate_wrapper(tracer: Tracer) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        scope = _pipeline_scope.get()
        if scope is not None:  # inside an instrumented pipeline: count tokens, its span measures
            result = wrapped(*args, **kwargs)
            try:
                scope.add(*extract.token_counts(instance, args, kwargs, result))
            except Exception:
                log_once(_logger, "transformers.tokens", "otel-carbon could not count generate() tokens", exc_info=True)
            return result
        invocation = Invocation(tracer, extract.generate_request(instance, kwargs), kind=SpanKind.INTERNAL)
        result = _run(invocation, wrapped, args, kwargs)
        invocation.finish(_response(instance, args, kwargs, result))
        return result

    return wrapper


def pipeline_wrapper(tracer: Tracer) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        request = extract.pipeline_request(instance, args, kwargs)
        invocation = Invocation(tracer, request, kind=SpanKind.INTERNAL)
        tokens = extract.PipelineTokens(request.model)
        reset = _pipeline_scope.set(tokens)
        try:
            result = _run(invocation, wrapped, args, kwargs)
        finally:
            _pipeline_scope.reset(reset)
        invocation.finish(tokens.response())
        return result

    return wrapper


#: (module, class, method, wrapper factory)
TARGETS: tuple[tuple[str, str, str, Callable[[Tracer], Wrapper]], ...] = (
    ("transformers.generation.utils", "GenerationMixin", "generate", generate_wrapper),
    ("transformers.pipelines.text_generation", "TextGenerationPipeline", "__call__", pipeline_wrapper),
)
