"""The per-call arithmetic of enrichment, with everything else worked out once.

What depends only on (provider, model, endpoint, region, settings) is a
:class:`~otel_carbon.footprint.FootprintBasis`, found once per plan
(:meth:`EnrichmentContext.plan <otel_carbon.processors.enrich.EnrichmentContext.plan>`);
what depends on the intensity reading as well — the string and boolean
attributes — is built once per (plan, reading) and reused until the reading
changes (readings are immutable, so a refresh is a new object).  Per call only
the token arithmetic and the attribute write remain.

The arithmetic is :func:`~otel_carbon.footprint.footprint_from` followed by
:func:`~otel_carbon.processors.enrich.footprint_attributes` with the
intermediate objects left out: the same operations on the same floats in the
same order, so the values are identical to the last bit.  That straightforward
computation is kept as the oracle: ``tests/test_fast_path.py`` checks equality
on the test suite's spans and on property-generated ones.
"""

from __future__ import annotations

import math
from typing import Any

from otel_carbon import sci
from otel_carbon import semconv as sc
from otel_carbon.estimate.catalogue import ModelMatch
from otel_carbon.estimate.inference import TokenUsage, decode_tokens, serving_seconds_per_j
from otel_carbon.footprint import FootprintBasis, MeasuredEnergy, api_cost_usd
from otel_carbon.intensity.reading import IntensityReading

AttributeValue = Any


class ReadingAttributes:
    """The string and boolean attributes of calls of one plan at one intensity reading, rebuilt
    when the reading changes (one slot: a plan has one zone, so one current reading)."""

    __slots__ = ("_basis", "_latest", "_measured", "_proxied")

    def __init__(self, basis: FootprintBasis, *, measured: bool, proxied: bool) -> None:
        self._basis = basis
        self._measured = measured
        self._proxied = proxied
        self._latest: tuple[IntensityReading, dict[str, AttributeValue]] | None = None

    def at(self, reading: IntensityReading) -> dict[str, AttributeValue]:
        """The attributes for ``reading`` (the caller copies them into its own dict)."""
        latest = self._latest
        if latest is not None and latest[0] is reading:
            return latest[1]
        attributes = self._build(reading)
        self._latest = (reading, attributes)  # one reference swap: safe without a lock
        return attributes

    def _build(self, reading: IntensityReading) -> dict[str, AttributeValue]:
        basis = self._basis
        out = reading_attributes(
            "measured" if self._measured else "estimated", basis.boundary, reading, basis.functional_unit,
            None if self._measured else basis.match,
        )
        if self._proxied:
            out[sc.SCI_PROXIED] = True
        out[sc.SCI_COUNTED] = True
        return out


def reading_attributes(
    method: str, boundary: sci.Boundary, reading: IntensityReading, unit: sci.FunctionalUnit, match: ModelMatch | None
) -> dict[str, AttributeValue]:
    """The attributes of a call that are not per-call numbers: method, boundary, the intensity reading
    (gCO2e/kWh, zone, source, fallback, observed at), functional unit and, for an estimate, the model match."""
    out: dict[str, AttributeValue] = {
        sc.SCI_ENERGY_METHOD: method,
        sc.SCI_BOUNDARY: boundary.value,
        sc.SCI_INTENSITY: reading.g_per_kwh,
        sc.SCI_INTENSITY_ZONE: reading.zone,
        sc.SCI_INTENSITY_SOURCE: reading.source,
        sc.SCI_INTENSITY_FALLBACK: reading.fallback,
        sc.SCI_FUNCTIONAL_UNIT: unit.value,
    }
    if reading.observed_at is not None:
        out[sc.SCI_INTENSITY_OBSERVED_AT] = reading.observed_at.isoformat()
    if match is not None:
        out[sc.SCI_MODEL_MATCH] = match.match
        out[sc.SCI_MODEL_CLASS] = match.spec.name
    return out


#: The per-call numbers, in the order :func:`layered_numbers` gives them.
NUMBER_KEYS = (sc.SCI_ENERGY, sc.SCI_ENERGY_LOW, sc.SCI_ENERGY_HIGH, sc.SCI_ENERGY_ACCELERATOR, sc.SCI_ENERGY_HOST,
               sc.SCI_ENERGY_IDLE, sc.SCI_ENERGY_OVERHEAD, sc.SCI_OPERATIONAL, sc.SCI_EMBODIED, sc.SCI_CARBON,
               sc.SCI_CARBON_LOW, sc.SCI_CARBON_HIGH)


def number_attributes(
    energy: tuple[float, float, float], layers: tuple[float, float, float, float], operational: float,
    embodied: float, carbon: tuple[float, float, float],
) -> dict[str, float]:
    """The per-call numbers as attributes: energy (low, mid, high) and its layers' mids (accelerator, host,
    idle, overhead), J; operational mid, embodied, and carbon (low, mid, high), g CO2e."""
    return dict(zip(NUMBER_KEYS, (energy[1], energy[0], energy[2], *layers, operational, embodied, carbon[1],
                                  carbon[0], carbon[2])))


def estimated_accelerator(basis: FootprintBasis, decoded: Any, prefill: Any) -> tuple[Any, Any, Any, Any]:
    """Accelerator energy (low, mid, high), J, and embodied carbon, g CO2e, of estimated calls.

    ``decoded`` and ``prefill`` are token counts (:func:`decode_tokens`, ``TokenUsage.prefill``):
    numbers for one call, or arrays for many (the same operations element by element).
    """
    per_token = basis.per_token
    decode, prefill_rate = per_token.decode, per_token.prefill
    acc_l = decoded * decode.low + prefill * prefill_rate.low
    acc_m = decoded * decode.mid + prefill * prefill_rate.mid
    acc_h = decoded * decode.high + prefill * prefill_rate.high
    embodied = sci.embodied_g(basis.estimated_te_g, acc_m * serving_seconds_per_j(basis.tdp_w), basis.lifespan_s)
    return acc_l, acc_m, acc_h, embodied


def layered_numbers(
    basis: FootprintBasis, accelerator: tuple[Any, Any, Any], host: tuple[Any, Any, Any] | None, embodied: Any,
    intensity: float,
) -> tuple[Any, ...]:
    """The per-call numbers (:data:`NUMBER_KEYS`) from accelerator energy (low, mid, high), J, measured host
    energy or ``None`` (estimated from the accelerator), embodied carbon, g CO2e, and intensity, gCO2e/kWh.

    Numbers for one call or arrays for many: element by element the same operations, in the
    order :func:`sci.layer_energy`, ``EnergyLayers.total`` and :func:`sci.carbon` do them
    (((accelerator + host) + idle) + overhead, then E · I + M).
    """
    factors = basis.factors
    acc_l, acc_m, acc_h = accelerator
    if basis.boundary is sci.Boundary.ACCELERATOR:
        host_l = host_m = host_h = idle_l = idle_m = idle_h = over_l = over_m = over_h = 0.0
    else:
        if host is None:
            ratio = factors.host_ratio
            host_l, host_m, host_h = acc_l * ratio, acc_m * ratio, acc_h * ratio
        else:
            host_l, host_m, host_h = host
        act_l, act_m, act_h = acc_l + host_l, acc_m + host_m, acc_h + host_h
        share, pue_excess = factors.idle_share, factors.pue - 1.0
        idle_l, idle_m, idle_h = act_l * share, act_m * share, act_h * share
        over_l, over_m, over_h = (act_l + idle_l) * pue_excess, (act_m + idle_m) * pue_excess, (act_h + idle_h) * pue_excess
    energy_l = acc_l + host_l + idle_l + over_l
    energy_m = acc_m + host_m + idle_m + over_m
    energy_h = acc_h + host_h + idle_h + over_h
    operational_m = sci.operational_g(energy_m, intensity)
    return (energy_m, energy_l, energy_h, acc_m, host_m, idle_m, over_m, operational_m, embodied,
            operational_m + embodied, sci.operational_g(energy_l, intensity) + embodied,
            sci.operational_g(energy_h, intensity) + embodied)


def call_attributes(
    basis: FootprintBasis,
    usage: TokenUsage,
    reading: IntensityReading,
    constants: dict[str, AttributeValue],
    measured: MeasuredEnergy | None,
    *,
    keep_cost: bool,
) -> dict[str, AttributeValue] | None:
    """The ``sci.*`` attributes (and ``gen_ai.usage.cost`` when ``keep_cost``) of one call.

    ``constants`` is :meth:`ReadingAttributes.at` of ``reading``.  ``None`` when a value
    would be non-finite or negative (the caller reports ``invalid_usage``).
    Units: J, g CO2e, gCO2e/kWh, USD.
    """
    if measured is not None:
        accelerator = (measured.accelerator_j,) * 3
        host = None if measured.host_j is None else (measured.host_j,) * 3
        embodied = sci.embodied_g(basis.measured_te_g * measured.devices, measured.duration_s, basis.lifespan_s)
    else:
        acc_l, acc_m, acc_h, embodied = estimated_accelerator(basis, decode_tokens(usage), usage.prefill)
        accelerator, host = (acc_l, acc_m, acc_h), None
    intensity = reading.g_per_kwh
    numbers = layered_numbers(basis, accelerator, host, embodied, intensity)
    out = constants | dict(zip(NUMBER_KEYS, numbers))
    checked = [*numbers, intensity]
    score = sci.score(numbers[9], basis.functional_unit, usage.total)
    if score is not None:
        out[sc.SCI_SCORE] = score
        checked.append(score)
    if keep_cost and basis.priced and measured is None:
        cost = api_cost_usd(basis.match, usage)
        if cost is not None:
            out[sc.GEN_AI_USAGE_COST] = cost
            checked.append(cost)
    if not (math.isfinite(sum(checked)) and min(checked) >= 0.0):  # a sum is finite only if each term is
        return None
    return out
