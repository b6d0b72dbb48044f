"""Set-up (wiring: may import every subpackage): ``configure()`` in one line, and the zero-code
launch, ``opentelemetry-instrument python app.py`` with carbon on every GenAI span.

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
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_carbon import accounting
from otel_carbon import semconv as sc
from otel_carbon._extras import MissingExtraError
from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.energy.install import install_meter_on_first_use
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.energy.metrics import register_hw_metrics
from otel_carbon.intensity import IntensityCache, build_intensity, zone_for_region
from otel_carbon.ledger import ledger_sink
from otel_carbon.processors import CarbonSpanProcessor, EnrichmentContext
from otel_carbon.processors.accountant import CarbonAccountant

_logger = logging.getLogger(__name__)
# Samplers that drop spans (OTEL_TRACES_SAMPLER values).
_RATIO_SAMPLERS = frozenset({"traceidratio", "parentbased_traceidratio"})

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

    Settings come from ``OTEL_CARBON_*``.  A bad value never breaks the app (as
    the OpenTelemetry SDK treats its own settings): one line on stderr names the
    variable and the accepted values, and the SDK is configured as if otel-carbon
    were absent — the app's traces and metrics flow, without carbon.  When several trace exporters are named,
    each gets its own enriching processor over one shared context, and only the
    first records the carbon metrics (so they are not counted twice).
    """

    def _configure(self, **kwargs: Any) -> None:
        try:
            settings = CarbonSettings.from_env()
        except ConfigError as exc:
            _logger.error("otel-carbon: %s; carbon enrichment is off in this process, the rest of "
                          "OpenTelemetry runs as configured", exc)
            super()._configure(**kwargs)
            return
        intensity = build_intensity(settings)
        atexit.register(intensity.close)  # stop refreshers, save the cache file
        # One accountant for the process, whatever the exporters (none at all with
        # OTEL_TRACES_EXPORTER=none): its metrics go to the global MeterProvider the SDK sets up.
        try:
            sink = ledger_sink(settings)
        except MissingExtraError as exc:
            _logger.error("otel-carbon: OTEL_CARBON_LEDGER: %s; calls are not written to a ledger", exc)
            sink = None
        if sink is not None:  # registered before the SDK's own hooks: runs after they flushed the last spans
            atexit.register(sink.close)
        accountant = CarbonAccountant(EnrichmentContext(settings=settings, intensity=intensity),
                                      sinks=(sink,) if sink is not None else ())
        kwargs.setdefault("export_span_processor", _processor_factory(accountant))
        super()._configure(**kwargs)
        accountant.resource = dict(getattr(trace.get_tracer_provider(), "resource", Resource.get_empty()).attributes)
        accounting.install(accountant)
        if sink is not None and settings.metrics:
            sink.register_metrics(metrics.get_meter_provider())
        install_energy_meter(settings, metrics.get_meter_provider())
        warn_if_sampled(os.environ)


def _processor_factory(accountant: CarbonAccountant) -> Any:
    def factory(exporter: SpanExporter) -> SpanProcessor:
        return CarbonSpanProcessor(BatchSpanProcessor(exporter), accountant=accountant)

    return factory


def warn_if_sampled(environ: Any) -> bool:
    """Say once, at start-up, what a sampler that drops spans means for carbon; return whether it did.

    Calls through our instrumentations are counted whether sampled or not; spans of
    other GenAI instrumentations reach the processor only when sampled.
    """
    sampler = environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if sampler in ("always_off", "parentbased_always_off"):
        ratio = 0.0
    elif sampler in _RATIO_SAMPLERS:
        try:
            ratio = float(environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
        except ValueError:
            return False
    else:
        return False
    if ratio >= 1.0:
        return False
    _logger.warning(
        "otel-carbon: OTEL_TRACES_SAMPLER=%s keeps %.0f%% of traces. Calls through otel-carbon's "
        "instrumentations are counted in full; spans from other GenAI instrumentations are counted only "
        "when sampled (docs/methodology.md, 'What is counted').",
        sampler,
        100 * ratio,
    )
    return True


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
    processor = carbon_span_processor(span_processor, carbon_settings, meter_provider, intensity)
    processor.accountant.resource = dict(resource.attributes)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(processor)
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return CarbonSetup(tracer_provider, meter_provider, processor, carbon_settings, intensity)


def carbon_span_processor(
    span_processor: SpanProcessor,
    settings: CarbonSettings,
    meter_provider: MeterProvider,
    intensity: IntensityCache | None = None,
) -> CarbonSpanProcessor:
    """``CarbonSpanProcessor`` in front of ``span_processor``, with carbon metrics on ``meter_provider``.

    ``intensity`` defaults to the shipped static table (no refreshers, no network).
    """
    context = EnrichmentContext(settings=settings, intensity=intensity if intensity is not None else IntensityCache())
    return CarbonSpanProcessor(span_processor, context=context, meter_provider=meter_provider)


def sdk_instrumentors(*names: str) -> list[Any]:
    """Our instrumentors for the SDKs ``names`` (their ``opentelemetry_instrumentor`` entry-point names,
    e.g. ``openai``), found as ``opentelemetry-instrument`` finds them; not yet instrumenting.

    Raises ``LookupError`` for a name otel-carbon does not register.
    """
    ours = _our_instrumentor_entry_points()
    missing = [name for name in names if name not in ours]
    if missing:
        raise LookupError(f"otel-carbon has no instrumentation named {', '.join(missing)}")
    return [ours[name].load()() for name in names]


def sdk_instrumentor_names() -> list[str]:
    """The entry-point names of every instrumentation otel-carbon registers (installed SDK or not)."""
    return sorted(_our_instrumentor_entry_points())


def _our_instrumentor_entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.value.startswith("otel_carbon.")}


def install_energy_meter(settings: CarbonSettings, meter_provider: Any) -> None:
    """Install the process energy meter (NVML, RAPL / CPU model), built at the first local-inference call,
    and then export its devices' ``hw.*`` metrics; an app that calls only remote APIs never builds it."""

    def export_hw_metrics(meter: Any) -> None:
        if isinstance(meter, DeviceMeter):
            register_hw_metrics(meter_provider.get_meter("otel_carbon", schema_url=sc.SCHEMA_URL), meter)

    install_meter_on_first_use(settings, export_hw_metrics)


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
