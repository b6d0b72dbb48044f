"""The dashboard's carbon-per-request p50/p95, through the real pipeline and a real Prometheus, are within
10 % of the true quantiles of a known workload (output tokens drawn from a fixed log-normal).

Spans go over OTLP to the gateway, which enriches them and records ``sci.carbon.request``; Prometheus
scrapes its endpoint and answers the dashboard's own ``histogram_quantile`` queries.  The true quantiles
are those of the ``sci.carbon`` values the gateway forwarded upstream.
"""

from __future__ import annotations

import math
import random

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from otlp_receiver import OTLPReceiver
from test_collector_gateway import GENAI
from test_collector_prometheus import dashboard_queries, prometheus_scraping, query, wait_for

from otel_carbon import semconv as sc
from otel_carbon.collector.gateway import Gateway
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext
from otel_carbon.processors.metrics import CARBON_BUCKETS_G

CALLS = 2000
FEATURE = "search"


def workload(seed: int = 10) -> list[dict]:
    """Chat calls of gpt-4o-mini: 800 input tokens, output tokens log-normal (median 300, sigma 1)."""
    draw = random.Random(seed)
    return [{**GENAI, "gen_ai.usage.input_tokens": 800, "app.feature": FEATURE,
             "gen_ai.usage.output_tokens": max(1, round(draw.lognormvariate(math.log(300), 1.0)))}
            for _ in range(CALLS)]


def send(port: int, calls: list[dict]) -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True),
                                                   max_export_batch_size=500))
    tracer = provider.get_tracer("app")
    for attributes in calls:
        tracer.start_span("chat gpt-4o-mini", attributes=attributes).end()
    provider.shutdown()


def true_quantile(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` (linear between order statistics, as numpy's default)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def dashboard_expr(quantile: str) -> str:
    (expr,) = [e for _, e in dashboard_queries() if e.startswith(f"histogram_quantile({quantile},")
               and "sci_carbon_request_grams_bucket" in e]
    return expr


def test_dashboard_p50_p95_are_within_10_percent_of_the_true_quantiles(tmp_path):
    context = EnrichmentContext(settings=CarbonSettings(zone="FR", dimensions=("app.feature",)))
    with (OTLPReceiver() as upstream,
          Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, metrics_listen=("127.0.0.1", 0)) as gateway,
          prometheus_scraping(tmp_path, gateway.metrics.port) as base):
        send(gateway.port, workload(seed=1)[:1])  # the series exist before the workload: rate() sees it whole
        wait_for(lambda: query(base, "sci_carbon_request_grams_count"), 30, "the first scrape")
        send(gateway.port, workload())
        wait_for(lambda: query(base, f"sci_carbon_request_grams_count == {CALLS + 1}"), 30,
                 "a scrape holding the whole workload")
        carbon = [attributes[sc.SCI_CARBON] for _, attributes in upstream.spans][1:]
        assert len(carbon) == CALLS and CARBON_BUCKETS_G[0] < min(carbon) and max(carbon) < CARBON_BUCKETS_G[-1]
        for q in ("0.5", "0.95"):
            (series,) = query(base, dashboard_expr(q))
            measured, truth = float(series["value"][1]), true_quantile(carbon, float(q))
            assert series["metric"]["app_feature"] == FEATURE
            assert abs(measured - truth) / truth < 0.10, (q, measured, truth)
