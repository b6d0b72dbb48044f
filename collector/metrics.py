"""The gateway's carbon metrics: on a Prometheus scrape endpoint and/or exported upstream over OTLP.

One ``MeterProvider`` per gateway; the gateway's :class:`~otel_carbon.processors.accountant.CarbonAccountant`
records into it the same instruments, names and dimensions as the in-process processor, once per counted call.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader



class GatewayMetrics:
    """The gateway's ``meter_provider``; ``port`` is the scrape port (``None`` without Prometheus)."""

    def __init__(
        self,
        *,
        prometheus_listen: tuple[str, int] | None = None,
        otlp_endpoint: str | None = None,
        export_interval_s: float = 60.0,
    ) -> None:
        readers: list[MetricReader] = []
        self._server: Any = None
        self.port: int | None = None
        if prometheus_listen is not None:
            from otel_carbon.collector.prometheus import scrape_endpoint  # the 'collector' extra

            reader, self._server = scrape_endpoint(*prometheus_listen)
            self.port = int(self._server.server_port)
            readers.append(reader)
        if otlp_endpoint is not None:
            exporter = OTLPMetricExporter(endpoint=otlp_endpoint, insecure=True)
            readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=export_interval_s * 1000))
        self.meter_provider = MeterProvider(metric_readers=readers)

    def stop(self) -> None:
        """Export what is pending (OTLP), then stop serving."""
        self.meter_provider.shutdown()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
