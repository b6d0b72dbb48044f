"""Zero-code launch: ``opentelemetry-instrument python app.py`` with carbon on every GenAI span.

* :class:`CarbonDistro` (entry point ``opentelemetry_distro``: ``otel_carbon``)
  sets the same defaults as ``opentelemetry-distro``: OTLP for traces,
  metrics and logs over gRPC, unless the user set them.
* :class:`CarbonConfigurator` (entry point ``opentelemetry_configurator``:
  ``otel_carbon``) runs the SDK's own configurator, passing
  ``export_span_processor`` so that each exporter named in
  ``OTEL_TRACES_EXPORTER`` is fed through ``CarbonSpanProcessor(BatchSpanProcessor(exporter))``.
  Exporters, endpoints and protocols stay the user's (``OTEL_EXPORTER_OTLP_*``);
  carbon metrics go to the global MeterProvider the SDK builds from
  ``OTEL_METRICS_EXPORTER``.  The process energy meter (NVML GPUs, the host) is
  installed too, and its devices export ``hw.energy`` / ``hw.power``.

When ``opentelemetry-distro`` is installed too, only one configurator runs:
set ``OTEL_PYTHON_CONFIGURATOR=otel_carbon`` and ``OTEL_PYTHON_DISTRO=otel_carbon``
(see ``docs/zero-code.md``).
"""

from __future__ import annotations

import atexit
import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from opentelemetry import metrics

from otel_carbon.config import CarbonSettings
from otel_carbon.intensity import build_intensity
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext
from otel_carbon.sdk_setup import install_energy_meter

_DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
}


class CarbonDistro(BaseDistro):  # type: ignore[misc]
    """Environment defaults of ``opentelemetry-distro``; the user's values win."""

    def _configure(self, **kwargs: Any) -> None:
        for name, value in _DEFAULTS.items():
            os.environ.setdefault(name, value)


class CarbonConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    """The SDK configurator, with carbon enrichment in front of every span exporter.

    Settings come from ``OTEL_CARBON_*``; a bad value raises ``ConfigError`` at
    start-up, naming the variable.  When several trace exporters are named,
    each gets its own enriching processor over one shared context, and only the
    first records the carbon metrics (so they are not counted twice).
    """

    def _configure(self, **kwargs: Any) -> None:
        settings = CarbonSettings.from_env()
        intensity = build_intensity(settings)
        atexit.register(intensity.close)  # stop refreshers, save the cache file
        context = EnrichmentContext(settings=settings, intensity=intensity)
        kwargs.setdefault("export_span_processor", _processor_factory(context))
        super()._configure(**kwargs)
        install_energy_meter(settings, metrics.get_meter_provider())


def _processor_factory(context: EnrichmentContext) -> Any:
    created = 0

    def factory(exporter: SpanExporter) -> SpanProcessor:
        nonlocal created
        shared = context if created == 0 else EnrichmentContext(
            settings=context.settings.with_changes(metrics=False),
            catalogue=context.catalogue,
            intensity=context.intensity,
        )
        created += 1
        return CarbonSpanProcessor(BatchSpanProcessor(exporter), context=shared)

    return factory
