"""The intensity cache's own health, as OpenTelemetry metrics (API only; no-op without an SDK).

* ``sci.intensity.age`` — gauge, s: time since each zone's live reading was
  received, per ``sci.intensity.zone`` and ``sci.intensity.source``;
* ``sci.intensity.refreshes`` — counter: successful refreshes per provider;
* ``sci.intensity.refresh.failures`` — counter: failed refreshes per provider
  and ``error.type`` (timeout, connection, auth, rate_limited, server, client,
  payload, budget).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from otel_carbon import __version__
from otel_carbon import semconv as sc
from otel_carbon.intensity.cache import IntensityCache


class IntensityHealth:
    """Records refresh outcomes and observes reading ages of one cache."""

    def __init__(self, cache: IntensityCache, meter_provider: MeterProvider | None = None) -> None:
        meter = metrics.get_meter("otel_carbon.intensity", __version__, meter_provider=meter_provider, schema_url=sc.SCHEMA_URL)
        self._cache = cache
        self._refreshes = meter.create_counter(
            sc.METRIC_INTENSITY_REFRESHES, unit="{refresh}", description="Successful grid-intensity refreshes"
        )
        self._failures = meter.create_counter(
            sc.METRIC_INTENSITY_REFRESH_FAILURES, unit="{failure}", description="Failed grid-intensity refreshes"
        )
        meter.create_observable_gauge(
            sc.METRIC_INTENSITY_AGE,
            callbacks=[self._observe_ages],
            unit="s",
            description="Seconds since each zone's live intensity was received",
        )

    def refreshed(self, provider: str) -> None:
        self._refreshes.add(1, {sc.SCI_INTENSITY_PROVIDER: provider})

    def failed(self, provider: str, reason: str) -> None:
        self._failures.add(1, {sc.SCI_INTENSITY_PROVIDER: provider, sc.ERROR_TYPE: reason})

    def _observe_ages(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(age, {sc.SCI_INTENSITY_ZONE: zone, sc.SCI_INTENSITY_SOURCE: source})
            for zone, source, age in self._cache.ages()
        ]
