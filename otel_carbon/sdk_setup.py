"""One-line setup: ``otel_carbon.configure()`` (wiring: may import every subpackage)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.energy.install import install_meter
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.energy.metrics import register_hw_metrics
from otel_carbon.intensity import IntensityCache, build_intensity, zone_for_region
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext


@dataclass
class CarbonSetup:
    """What :func:`configure` built; ``shutdown()`` flushes and stops both providers."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    processor: CarbonSpanProcessor
    settings: CarbonSettings
    intensity: IntensityCache

    def shutdown(self) -> None:
        """Flush and stop tracing, metrics and the intensity refreshers (saving the cache)."""
        self.tracer_provider.shutdown()
        self.intensity.close()
        self.meter_provider.shutdown()


def configure(
    *,
    exporter: SpanExporter | None = None,
    span_processor: SpanProcessor | None = None,
    metric_readers: Sequence[MetricReader] | None = None,
    resource: Resource | None = None,
    set_global: bool = True,
    **settings: Any,
) -> CarbonSetup:
    """Set up tracing and metrics with carbon enrichment in one call.

    Spans go to ``span_processor`` if given, else ``BatchSpanProcessor(exporter)``,
    else to an OTLP exporter configured by the usual ``OTEL_EXPORTER_OTLP_*``
    variables.  Metrics go to ``metric_readers``, else to a periodic OTLP
    reader.  Keyword ``settings`` override ``OTEL_CARBON_*`` variables (see
    :class:`~otel_carbon.config.CarbonSettings`); a bad value raises
    :class:`~otel_carbon.config.ConfigError` here, at start-up.
    """
    carbon_settings = CarbonSettings.from_env(**settings)
    resource = resource or Resource.create()
    if span_processor is None:
        span_processor = BatchSpanProcessor(exporter or otlp_span_exporter())
    if metric_readers is None:
        metric_readers = [PeriodicExportingMetricReader(otlp_metric_exporter())]
    meter_provider = MeterProvider(resource=resource, metric_readers=list(metric_readers))
    intensity = build_intensity(carbon_settings, meter_provider=meter_provider)
    install_energy_meter(carbon_settings, meter_provider)
    _watch_resource_region(intensity, resource)
    processor = CarbonSpanProcessor(
        span_processor,
        context=EnrichmentContext(settings=carbon_settings, intensity=intensity),
        meter_provider=meter_provider,
    )
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(processor)
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return CarbonSetup(tracer_provider, meter_provider, processor, carbon_settings, intensity)


def install_energy_meter(settings: CarbonSettings, meter_provider: Any) -> None:
    """Install the process energy meter (NVML, RAPL / CPU model) and export its devices' ``hw.*`` metrics."""
    meter = install_meter(settings)
    if isinstance(meter, DeviceMeter):
        register_hw_metrics(meter_provider.get_meter("otel_carbon"), meter)


def _watch_resource_region(intensity: IntensityCache, resource: Resource) -> None:
    """Ask live providers to follow this process's own cloud region from the start."""
    provider = resource.attributes.get(sc.CLOUD_PROVIDER)
    region = resource.attributes.get(sc.CLOUD_REGION)
    if provider and region:
        zone = zone_for_region(str(provider), str(region))
        if zone is not None:
            intensity.watch(zone, cloud=(str(provider), str(region)))


def otlp_span_exporter() -> SpanExporter:
    """An OTLP span exporter for ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` (grpc or http/protobuf)."""
    if _protocol("TRACES") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter()


def otlp_metric_exporter() -> Any:
    """An OTLP metric exporter for ``OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL``."""
    if _protocol("METRICS") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
    return OTLPMetricExporter()


def _protocol(signal: str) -> str:
    return os.environ.get(
        f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    )
