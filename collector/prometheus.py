"""The gateway's carbon metrics on a Prometheus scrape endpoint.

A dedicated registry and ``MeterProvider`` per gateway: the carbon instruments
(:class:`otel_carbon.processors.metrics.CarbonMetrics`) are read by the
OpenTelemetry Prometheus reader and served in the text format at ``/metrics``.
Prometheus names follow the exporter's translation: ``sci.carbon`` (unit g)
→ ``sci_carbon_grams_total``, ``sci.energy`` (J) → ``sci_energy_joules_total``,
``sci.carbon.request`` → ``sci_carbon_request_grams_bucket`` … (see
``docs/querying.md``).
"""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, start_http_server

from otel_carbon.processors.enrich import token_usage
from otel_carbon.processors.metrics import CarbonMetrics, metric_dimensions


class PrometheusEndpoint:
    """Serve carbon metrics at ``http://host:port/metrics``; ``record`` one enriched span."""

    def __init__(self, host: str, port: int, dimensions: tuple[str, ...] = ()) -> None:
        self._registry = CollectorRegistry()
        self.meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=self._registry)])
        self._metrics = CarbonMetrics(self.meter_provider)
        self._dimensions = dimensions
        self._server, self._thread = start_http_server(port, host, registry=self._registry)
        self.port = int(self._server.server_port)

    def record(self, attributes: Mapping[str, Any], carbon: Mapping[str, Any], resource: Mapping[str, Any]) -> None:
        dims = metric_dimensions(attributes, carbon, resource, self._dimensions)
        self._metrics.record(carbon, token_usage(attributes), dims)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.meter_provider.shutdown()
