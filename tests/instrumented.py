"""Shared set-up of the instrumentation tests: an instrumentor feeding our processor into memory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_carbon.config import CarbonSettings
from otel_carbon.energy import default_meter, set_default_meter
from otel_carbon.energy.install import build_devices
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.processors import CarbonSpanProcessor


@contextmanager
def instrumented(instrumentor: Any, **instrument_kw: Any) -> Iterator[InMemorySpanExporter]:
    """Instrument with ``instrumentor`` → CarbonSpanProcessor → memory; uninstrument on exit."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CarbonSpanProcessor(SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR")))
    instrumentor.instrument(tracer_provider=provider, **instrument_kw)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


@contextmanager
def host_metered() -> Iterator[DeviceMeter]:
    """This host's real meter (RAPL or the CPU model, no GPU) as the process meter; restored on exit."""
    meter = DeviceMeter([d for d in build_devices(CarbonSettings(zone="FR"), nvml=None) if d.info.role == "host"])
    previous = default_meter()
    set_default_meter(meter)
    try:
        yield meter
    finally:
        set_default_meter(previous)
        meter.close()
