"""The Prometheus scrape endpoint for the gateway's carbon metrics.

A dedicated registry per gateway, read by the OpenTelemetry Prometheus reader
and served in the text format at ``/metrics``.  Prometheus names follow the
exporter's translation: ``sci.carbon`` (unit g) → ``sci_carbon_grams_total``,
``sci.energy`` (J) → ``sci_energy_joules_total``, ``sci.carbon.request`` →
``sci_carbon_request_grams_bucket`` … (see ``docs/querying.md``).  Needs the
``collector`` extra (``opentelemetry-exporter-prometheus``).
"""

from __future__ import annotations

from typing import Any

from otel_carbon._extras import missing_extra

try:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry, start_http_server
except ModuleNotFoundError as exc:
    raise missing_extra("collector", exc, "the gateway's Prometheus endpoint") from exc


def scrape_endpoint(host: str, port: int) -> tuple[PrometheusMetricReader, Any]:
    """A metric reader and the HTTP server exposing it at ``http://host:port/metrics`` (already serving)."""
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    server, _thread = start_http_server(port, host, registry=registry)
    return reader, server
