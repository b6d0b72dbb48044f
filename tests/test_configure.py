"""``otel_carbon.configure()``: one-line setup through the real SDK."""

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_carbon
from otel_carbon import semconv as sc
from otel_carbon.config import ConfigError


def test_configure_wires_enrichment_and_metrics():
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    setup = otel_carbon.configure(exporter=exporter, metric_readers=[reader], set_global=False, zone="FR",
                                  boundary="accelerator")
    tracer = setup.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
        "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20}):
        pass
    setup.tracer_provider.force_flush()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[sc.SCI_BOUNDARY] == "accelerator"
    names = {m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {sc.METRIC_CARBON, sc.METRIC_ENERGY, sc.METRIC_CARBON_PER_REQUEST} <= names
    setup.shutdown()


def test_configure_rejects_bad_settings_at_startup(monkeypatch):
    monkeypatch.setenv("OTEL_CARBON_FUNCTIONAL_UNIT", "per-user")
    with pytest.raises(ConfigError, match="OTEL_CARBON_FUNCTIONAL_UNIT"):
        otel_carbon.configure(exporter=InMemorySpanExporter(), metric_readers=[], set_global=False)
