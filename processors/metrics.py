"""Carbon metrics recorded from enriched spans.

Instruments (names in :mod:`otel_carbon.semconv`):

* ``sci.carbon`` counter, g CO2e; ``sci.energy`` counter, J;
* ``sci.carbon.request`` histogram, g CO2e per request (buckets 2**(1/8) apart: quantiles within 9.1 %);
* ``sci.intensity`` gauge, gCO2e/kWh, per zone;
* ``sci.tokens`` counter, tokens by ``gen_ai.token.type`` (for g per 1k tokens);
* ``gen_ai.usage.cost`` counter, USD;
* ``sci.calls.uncounted`` counter, spans not counted, by ``sci.carbon.status``
  (``duplicate``, ``no_usage``, ``invalid_usage``).

One :class:`CarbonMetrics` per meter provider (:func:`metrics_for`), so that
several processors and the instrumentations' accountant share one set of totals.

Dimensions: provider, model, zone, method, plus configured keys taken from the
span's attributes, then the resource, then baggage captured at span start.

The counters and the gauge are *observable*: a call adds its figures to
running totals per dimension set (a dict update under a lock), and the SDK
reads the totals when it collects.  Only the histogram is recorded
synchronously.  This keeps the cost on the thread that ends the span low;
totals are cumulative, as counters are.  Distinct dimension sets are capped
at ``max_series``; further ones are summed under ``otel.metric.overflow=true``
(the SDK's own overflow convention).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation, get_meter, get_meter_provider

from otel_carbon import semconv as sc
from otel_carbon.estimate.inference import TokenUsage

#: Base-2 exponential histogram scale of the per-request buckets: 2**CARBON_BUCKET_SCALE buckets per doubling.
CARBON_BUCKET_SCALE = 3
#: Per-request carbon bucket boundaries, g CO2e: 2**(k/8) from 2**-20 (9.5e-7 g) to 2**7 (128 g), 6 significant
#: digits — the scale-3 base-2 exponential histogram's boundaries written out as explicit buckets, because the
#: Prometheus text exposition cannot carry exponential histograms.  Neighbours differ by 2**(1/8) ≈ 1.0905, and
#: ``histogram_quantile`` interpolates inside the bucket that holds the true quantile, so the dashboard's p50/p95
#: are within 9.1 % of the true quantiles for any workload inside the range (docs/querying.md).  217 boundaries.
CARBON_BUCKETS_G: tuple[float, ...] = tuple(
    float(f"{2.0 ** (k / 2**CARBON_BUCKET_SCALE):.6g}")
    for k in range(-20 * 2**CARBON_BUCKET_SCALE, 7 * 2**CARBON_BUCKET_SCALE + 1)
)
DEFAULT_MAX_SERIES = 2000
OVERFLOW: tuple[tuple[str, Any], ...] = (("otel.metric.overflow", True),)

_UNKNOWN = "_OTHER"
# Index of each running total in a series' list.
_CARBON, _ENERGY, _INPUT, _OUTPUT, _COST = range(5)


class CarbonMetrics:
    """The carbon instruments, created once per meter, and their running totals."""

    def __init__(
        self, meter_provider: MeterProvider | None = None, version: str = "", max_series: int = DEFAULT_MAX_SERIES
    ) -> None:
        meter: Meter = get_meter("otel_carbon", version, meter_provider=meter_provider, schema_url=sc.SCHEMA_URL)
        self._max_series = max_series
        self._totals: dict[tuple[tuple[str, Any], ...], list[float]] = {}
        self._intensity: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        meter.create_observable_counter(
            sc.METRIC_CARBON, [self._observe(_CARBON)], unit="g", description="Carbon of GenAI calls, g CO2e"
        )
        meter.create_observable_counter(
            sc.METRIC_ENERGY, [self._observe(_ENERGY)], unit="J", description="Energy of GenAI calls inside the boundary"
        )
        meter.create_observable_counter(
            sc.METRIC_TOKENS, [self._observe_tokens], unit="{token}", description="Tokens of GenAI calls"
        )
        meter.create_observable_counter(
            sc.METRIC_COST, [self._observe(_COST)], unit="USD", description="Cost of GenAI calls"
        )
        meter.create_observable_gauge(
            sc.METRIC_INTENSITY, [self._observe_intensity], unit="g/kWh", description="Grid carbon intensity per zone"
        )
        self._uncounted = meter.create_counter(
            sc.METRIC_UNCOUNTED, unit="{span}", description="GenAI spans not counted, by sci.carbon.status"
        )
        self._per_request = meter.create_histogram(
            sc.METRIC_CARBON_PER_REQUEST,
            unit="g",
            description="Carbon per GenAI call, g CO2e",
            explicit_bucket_boundaries_advisory=list(CARBON_BUCKETS_G),
        )

    def record(self, carbon: Mapping[str, Any], usage: TokenUsage, dimensions: Mapping[str, Any]) -> None:
        """Record one enriched call; ``carbon`` is the output of ``carbon_attributes``, ``dimensions``
        :func:`metric_dimensions`' (its keys always come in one order, so they name a series as they are)."""
        self._per_request.record(carbon[sc.SCI_CARBON], dimensions)
        cost = carbon.get(sc.GEN_AI_USAGE_COST)
        key = tuple(dimensions.items())
        with self._lock:
            totals = self._totals.get(key)
            if totals is None:
                if len(self._totals) >= self._max_series:
                    key = OVERFLOW
                totals = self._totals.setdefault(key, [0.0, 0.0, 0.0, 0.0, 0.0])
            totals[_CARBON] += carbon[sc.SCI_CARBON]
            totals[_ENERGY] += carbon[sc.SCI_ENERGY]
            totals[_INPUT] += usage.input
            totals[_OUTPUT] += usage.output
            if isinstance(cost, (int, float)):
                totals[_COST] += cost
            self._intensity[(carbon[sc.SCI_INTENSITY_ZONE], carbon[sc.SCI_INTENSITY_SOURCE])] = carbon[sc.SCI_INTENSITY]

    def record_uncounted(self, status: str) -> None:
        """Count one GenAI span that is not counted (a duplicate, or carbon that could not be computed)."""
        self._uncounted.add(1, {sc.SCI_CARBON_STATUS: status})

    def _snapshot(self) -> list[tuple[tuple[tuple[str, Any], ...], list[float]]]:
        with self._lock:
            return [(key, list(values)) for key, values in self._totals.items()]

    def _observe(self, index: int):
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(values[index], dict(key)) for key, values in self._snapshot()]

        return callback

    def _observe_tokens(self, options: CallbackOptions) -> Iterable[Observation]:
        observations = []
        for key, values in self._snapshot():
            for token_type, index in (("input", _INPUT), ("output", _OUTPUT)):
                observations.append(Observation(values[index], {**dict(key), sc.DIM_TOKEN_TYPE: token_type}))
        return observations

    def _observe_intensity(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            latest = list(self._intensity.items())
        return [
            Observation(value, {sc.DIM_ZONE: zone, sc.SCI_INTENSITY_SOURCE: source}) for (zone, source), value in latest
        ]


_by_provider: weakref.WeakKeyDictionary[Any, CarbonMetrics] = weakref.WeakKeyDictionary()
_by_provider_lock = threading.Lock()


def metrics_for(meter_provider: MeterProvider | None = None) -> CarbonMetrics:
    """The carbon instruments of ``meter_provider`` (default: the global one), created on first use."""
    provider = meter_provider if meter_provider is not None else get_meter_provider()
    with _by_provider_lock:
        metrics = _by_provider.get(provider)
        if metrics is None:
            metrics = _by_provider[provider] = CarbonMetrics(provider)
        return metrics


def metric_dimensions(
    attributes: Mapping[str, Any],
    carbon: Mapping[str, Any],
    resource: Mapping[str, Any],
    keys: Sequence[str],
    baggage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Low-cardinality dimensions of one call's metrics.

    Configured ``keys`` are looked up in span attributes, then resource
    attributes, then ``baggage``; a key found nowhere is omitted.
    """
    dims: dict[str, Any] = {
        sc.DIM_PROVIDER: str(sc.first_present(attributes, sc.PROVIDER_KEYS) or _UNKNOWN),
        sc.DIM_MODEL: str(sc.first_present(attributes, (sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL)) or _UNKNOWN),
        sc.DIM_ZONE: carbon[sc.SCI_INTENSITY_ZONE],
        sc.DIM_METHOD: carbon[sc.SCI_ENERGY_METHOD],
    }
    for key in keys:
        for source in (attributes, resource, baggage or {}):
            value = source.get(key)
            if value is not None:
                dims[key] = value if isinstance(value, (str, bool, int, float)) else str(value)
                break
    return dims
