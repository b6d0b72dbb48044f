"""The gateway's own telemetry: what it accepted, rejected, dropped, retried and may have duplicated.

Instruments (names in :mod:`otel_carbon.semconv`), read from the gateway's
counters when the SDK collects (observable) except the upstream latency:

* ``otel_carbon.gateway.accepted`` {item} per ``otel_carbon.signal`` — acknowledged to senders;
* ``otel_carbon.gateway.rejected`` {request} per ``otel_carbon.receiver`` (grpc | http) and
  ``otel_carbon.reason`` (``malformed``, ``unauthenticated``, ``too_large``, ``busy``, ``body_timeout``, …);
* ``otel_carbon.gateway.dropped`` {item} — deleted from a full retry queue;
* ``otel_carbon.gateway.retried`` {request} — queued sends that failed and wait for another try;
* ``otel_carbon.gateway.duplicates_suspected`` {item} — sends that timed out and may still land, and
  OTLP/HTTP requests delivered after their sender had given up (it sends them again);
* ``otel_carbon.gateway.queue.size`` {request} and ``otel_carbon.gateway.queue.age`` s (oldest);
* ``otel_carbon.gateway.upstream.duration`` histogram, s, per ``otel_carbon.outcome``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter

from otel_carbon import semconv as sc

if TYPE_CHECKING:
    from otel_carbon.collector.forwarder import Forwarder
    from otel_carbon.collector.http_receiver import OTLPHttpServer
    from otel_carbon.collector.payload import RejectionCounts

#: Upstream latency buckets, s: 1 ms … 30 s.
DURATION_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayHealth:
    """The health instruments on ``meter_provider``; :meth:`watch` names the counters they read."""

    def __init__(self, meter_provider: MeterProvider) -> None:
        meter = get_meter("otel_carbon.collector", meter_provider=meter_provider, schema_url=sc.SCHEMA_URL)
        self._forwarder: Forwarder | None = None
        self._rejections: Mapping[str, RejectionCounts] = {}
        self._http: OTLPHttpServer | None = None
        meter.create_observable_counter(sc.METRIC_GATEWAY_ACCEPTED, [self._accepted], unit="{item}",
                                        description="Spans, metrics and log records acknowledged to senders")
        meter.create_observable_counter(sc.METRIC_GATEWAY_REJECTED, [self._rejected], unit="{request}",
                                        description="Requests refused, by receiver and reason")
        meter.create_observable_counter(sc.METRIC_GATEWAY_DROPPED, [self._observe(lambda f: f.queue.dropped_items if f.queue else 0)],
                                        unit="{item}", description="Items deleted from a full retry queue")
        meter.create_observable_counter(sc.METRIC_GATEWAY_RETRIED, [self._observe(lambda f: f.retried_from_queue)],
                                        unit="{request}", description="Queued sends that failed and wait")
        meter.create_observable_counter(sc.METRIC_GATEWAY_AMBIGUOUS, [self._suspected_duplicates],
                                        unit="{item}", description="Items in sends that timed out and may land twice")
        meter.create_observable_gauge(sc.METRIC_GATEWAY_QUEUE_SIZE, [self._observe(lambda f: len(f.queue) if f.queue else 0)],
                                      unit="{request}", description="Requests waiting in the retry queue")
        meter.create_observable_gauge(sc.METRIC_GATEWAY_QUEUE_AGE, [self._observe(lambda f: f.queue.oldest_age_s() if f.queue else 0.0)],
                                      unit="s", description="Age of the oldest request in the retry queue")
        self._duration = meter.create_histogram(sc.METRIC_GATEWAY_UPSTREAM_DURATION, unit="s",
                                                description="Duration of upstream export calls, by outcome",
                                                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS_S))

    def watch(self, forwarder: Forwarder, rejections: Mapping[str, RejectionCounts],
              http: OTLPHttpServer | None = None) -> None:
        """Read ``forwarder``'s counters, each receiver's rejections (``{"grpc": …, "http": …}``) and the
        HTTP receiver's abandoned requests."""
        self._forwarder = forwarder
        self._rejections = rejections
        self._http = http

    def _suspected_duplicates(self, options: CallbackOptions) -> Iterable[Observation]:
        """Ambiguous upstream attempts, plus requests delivered after their HTTP sender gave up."""
        if self._forwarder is None:
            return []
        abandoned = self._http.abandoned_items if self._http is not None else 0
        return [Observation(self._forwarder.ambiguous_items + abandoned)]

    def on_attempt(self, seconds: float, outcome: str) -> None:
        """Record one upstream call (the forwarder's ``on_attempt``)."""
        self._duration.record(seconds, {sc.DIM_GATEWAY_OUTCOME: outcome})

    def _accepted(self, options: CallbackOptions) -> Iterable[Observation]:
        accepted = dict(self._forwarder.accepted_items) if self._forwarder else {}
        return [Observation(count, {sc.DIM_GATEWAY_SIGNAL: signal}) for signal, count in accepted.items()]

    def _rejected(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count, {sc.DIM_GATEWAY_RECEIVER: receiver, sc.DIM_GATEWAY_REASON: reason})
                for receiver, counts in self._rejections.items() for reason, count in dict(counts.by_reason).items()]

    def _observe(self, figure: Callable[[Forwarder], float]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        """A callback observing ``figure(forwarder)`` (nothing before :meth:`watch`)."""

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return [] if self._forwarder is None else [Observation(figure(self._forwarder))]

        return observe
