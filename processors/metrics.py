"""Carbon metrics recorded from enriched spans.

Instruments (names in :mod:`otel_carbon.semconv`):

* ``sci.carbon`` counter, g CO2e; ``sci.energy`` counter, J;
* ``sci.carbon.request`` histogram, g CO2e per request (log-spaced buckets);
* ``sci.intensity`` gauge, gCO2e/kWh, per zone;
* ``sci.tokens`` counter, tokens by ``gen_ai.token.type`` (for g per 1k tokens);
* ``gen_ai.usage.cost`` counter, USD.

Dimensions: provider, model, zone, method, plus configured keys taken from the
span's attributes, then the resource, then baggage captured at span start.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from opentelemetry.metrics import Meter, MeterProvider, get_meter

from otel_carbon import semconv as sc
from otel_carbon.estimate.inference import TokenUsage

# 1e-6 g … 10 g, three buckets per decade: a GenAI call spans micrograms to grams.
CARBON_BUCKETS_G: tuple[float, ...] = tuple(
    round(m * 10.0**e, 12) for e in range(-6, 2) for m in (1.0, 2.0, 5.0)
)

_UNKNOWN = "_OTHER"


class CarbonMetrics:
    """The carbon instruments, created once per meter."""

    def __init__(self, meter_provider: MeterProvider | None = None, version: str = "") -> None:
        meter: Meter = get_meter("otel_carbon", version, meter_provider=meter_provider)
        self._carbon = meter.create_counter(sc.METRIC_CARBON, unit="g", description="Carbon of GenAI calls, g CO2e")
        self._energy = meter.create_counter(sc.METRIC_ENERGY, unit="J", description="Energy of GenAI calls inside the boundary")
        self._per_request = meter.create_histogram(
            sc.METRIC_CARBON_PER_REQUEST,
            unit="g",
            description="Carbon per GenAI call, g CO2e",
            explicit_bucket_boundaries_advisory=list(CARBON_BUCKETS_G),
        )
        self._intensity = meter.create_gauge(sc.METRIC_INTENSITY, unit="g/kWh", description="Grid carbon intensity per zone")
        self._tokens = meter.create_counter(sc.METRIC_TOKENS, unit="{token}", description="Tokens of GenAI calls")
        self._cost = meter.create_counter(sc.METRIC_COST, unit="USD", description="Cost of GenAI calls")

    def record(self, carbon: Mapping[str, Any], usage: TokenUsage, dimensions: Mapping[str, Any]) -> None:
        """Record one enriched call; ``carbon`` is the output of ``carbon_attributes``."""
        self._carbon.add(carbon[sc.SCI_CARBON], dimensions)
        self._energy.add(carbon[sc.SCI_ENERGY], dimensions)
        self._per_request.record(carbon[sc.SCI_CARBON], dimensions)
        self._intensity.set(
            carbon[sc.SCI_INTENSITY],
            {sc.DIM_ZONE: carbon[sc.SCI_INTENSITY_ZONE], sc.SCI_INTENSITY_SOURCE: carbon[sc.SCI_INTENSITY_SOURCE]},
        )
        if usage.input:
            self._tokens.add(usage.input, {**dimensions, sc.DIM_TOKEN_TYPE: "input"})
        if usage.output:
            self._tokens.add(usage.output, {**dimensions, sc.DIM_TOKEN_TYPE: "output"})
        cost = carbon.get(sc.GEN_AI_USAGE_COST)
        if isinstance(cost, (int, float)) and cost > 0:
            self._cost.add(cost, dimensions)


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
