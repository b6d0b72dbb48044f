"""The gateway's carbon metrics: on a Prometheus scrape endpoint and/or exported upstream over OTLP.

One ``MeterProvider`` per gateway; the gateway's :class:`~otel_carbon.processors.accountant.CarbonAccountant`
records into it the same instruments, names and dimensions as the in-process processor, once per counted call.
The gateway's own health instruments (:mod:`.health`) share it.  Its resource has
``service.name`` = ``otel-carbon-collector`` unless ``OTEL_SERVICE_NAME`` /
``OTEL_RESOURCE_ATTRIBUTES`` name the service.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HTTPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from otel_carbon.collector.health import GatewayHealth
from otel_carbon.collector.upstream import Upstream

SERVICE = "otel-carbon-collector"


def _metric_exporter(upstream: Upstream) -> OTLPMetricExporter | HTTPMetricExporter:
    """The SDK's OTLP metric exporter for the upstream link (same protocol, TLS and headers as the spans)."""
    headers = dict(upstream.headers) or None
    if upstream.protocol == "http/protobuf":
        return HTTPMetricExporter(endpoint=f"{upstream.url}/v1/metrics", certificate_file=upstream.ca_file,
                                  client_certificate_file=upstream.cert_file, client_key_file=upstream.key_file,
                                  headers=headers)
    return OTLPMetricExporter(endpoint=upstream.target, insecure=not upstream.tls,
                              credentials=upstream.credentials(), headers=headers)


def gateway_resource() -> Resource:
    """The SDK's resource from the environment, named ``otel-carbon-collector`` unless the environment names it."""
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: SERVICE}))
    return detected


class GatewayMetrics:
    """The gateway's ``meter_provider``; ``port`` is the scrape port (``None`` without Prometheus)."""

    def __init__(
        self,
        *,
        prometheus_listen: tuple[str, int] | None = None,
        otlp_upstream: Upstream | None = None,
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
        if otlp_upstream is not None:
            exporter = _metric_exporter(otlp_upstream)
            readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=export_interval_s * 1000))
        self.meter_provider = MeterProvider(metric_readers=readers, resource=gateway_resource())
        self.health = GatewayHealth(self.meter_provider)

    def stop(self) -> None:
        """Export what is pending (OTLP), then stop serving."""
        self.meter_provider.shutdown()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
