"""Hugging Face transformers instrumentation: ``generate()`` and text-generation pipelines, in process.

Each call is a span of kind INTERNAL (the work runs here) with the GenAI
attributes (``gen_ai.provider.name = transformers``, the model's hub id or
type, input and generated token counts) and, from the process energy meter,
the energy measured while it ran (``sci.measured.*``): the carbon processor
then reports measured energy.  A pipeline call is one span; the
``generate()`` calls inside it add their tokens to it.  Models that override
``generate`` (a few speech and audio models) are not covered, nor pipelines
fed a lazy iterator (their work runs after the call returns).

    from otel_carbon.instrumentations.transformers import TransformersInstrumentor
    TransformersInstrumentor().instrument()
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer
from wrapt import wrap_function_wrapper

from otel_carbon.instrumentations._shared.deferred import DeferredInstrumentor
from otel_carbon.instrumentations.transformers.package import _instruments
from otel_carbon.instrumentations.transformers.patch import TARGETS


class TransformersInstrumentor(DeferredInstrumentor):
    """Spans with measured energy for local ``transformers`` generation."""

    _module = "transformers.generation.utils"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        for module, cls, method, factory in TARGETS:
            wrap_function_wrapper(module, f"{cls}.{method}", factory(tracer))

    def _unpatch(self) -> None:
        for module, cls, method, _ in TARGETS:
            unwrap(getattr(importlib.import_module(module), cls), method)
