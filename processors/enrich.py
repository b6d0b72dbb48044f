"""Enrichment: GenAI span attributes + resource attributes in, ``sci.*`` attributes out.

This is the one function the span processor and the collector gateway both
call.  It imports no SDK: it works on plain mappings, so an OTLP span decoded
from protobuf is enriched exactly like an in-process ``ReadableSpan``.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.estimate.inference import TokenUsage
from otel_carbon.footprint import Footprint, MeasuredEnergy, compute_footprint, resolve_zone
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.reading import IntensityLookup
from otel_carbon.intensity.zones import zone_for_region

AttributeValue = Any  # str | bool | int | float | sequences thereof



@dataclass(frozen=True)
class EnrichmentContext:
    """What enrichment needs besides the span: settings, the catalogue, intensity."""

    settings: CarbonSettings = field(default_factory=CarbonSettings)
    catalogue: Catalogue = field(default_factory=Catalogue.default)
    intensity: IntensityLookup = field(default_factory=IntensityCache)


def is_genai(attributes: Mapping[str, Any]) -> bool:
    """True for a span that describes a GenAI model call (ours or any peer instrumentation's)."""
    if sc.GENAI_MARKER_KEYS.isdisjoint(attributes):
        return False
    return attributes.get(sc.GEN_AI_OPERATION_NAME) not in sc.NON_INFERENCE_OPERATIONS


def needs_enrichment(attributes: Mapping[str, Any]) -> bool:
    """A GenAI span without carbon yet (a span that already carries ``sci.carbon`` is left as it is)."""
    return is_genai(attributes) and sc.SCI_CARBON not in attributes


def token_usage(attributes: Mapping[str, Any]) -> TokenUsage:
    """Token counts from old or new GenAI names; garbage values count as 0.

    The conventions count cached and cache-write tokens inside ``input``.  A
    producer that copied Anthropic's raw ``input_tokens`` (which excludes
    them) reports fewer input than cache tokens; those are added back.
    """
    input_tokens = _int(sc.first_present(attributes, sc.INPUT_TOKEN_KEYS))
    cached = _int(sc.first_present(attributes, sc.CACHE_READ_KEYS))
    cache_write = _int(sc.first_present(attributes, sc.CACHE_WRITE_KEYS))
    if cached + cache_write > input_tokens:
        input_tokens += cached + cache_write
    return TokenUsage(
        input=input_tokens,
        output=_int(sc.first_present(attributes, sc.OUTPUT_TOKEN_KEYS)),
        cached_input=cached,
        cache_write=cache_write,
        reasoning=_int(sc.first_present(attributes, sc.REASONING_KEYS)),
    )


def measured_energy(attributes: Mapping[str, Any]) -> MeasuredEnergy | None:
    """The measurement window our instrumentation recorded on the span, if any."""
    accelerator = _float(attributes.get(sc.SCI_MEASURED_ACCELERATOR))
    host = _float(attributes.get(sc.SCI_MEASURED_HOST))
    if accelerator is None and host is None:
        return None
    devices = attributes.get(sc.SCI_MEASURED_DEVICES)
    return MeasuredEnergy(
        accelerator_j=accelerator or 0.0,
        host_j=host,
        duration_s=_float(attributes.get(sc.SCI_MEASURED_DURATION)) or 0.0,
        devices=max(len(devices), 1) if isinstance(devices, (list, tuple)) else 1,
    )


def carbon_attributes(
    attributes: Mapping[str, Any],
    resource: Mapping[str, Any],
    context: EnrichmentContext,
) -> dict[str, AttributeValue]:
    """The ``sci.*`` (and ``gen_ai.usage.cost``) attributes for one span.

    Empty for a span that is not a GenAI call or already carries carbon.
    Pure: reads its arguments, and the intensity cache, which never blocks.
    """
    if not needs_enrichment(attributes):
        return {}
    provider = sc.first_present(attributes, sc.PROVIDER_KEYS)
    provider = str(provider) if provider is not None else None
    model = sc.first_present(attributes, sc.MODEL_KEYS)
    measured = measured_energy(attributes)
    local = (
        measured is not None
        or is_local_host(attributes.get(sc.SERVER_ADDRESS))
        or (provider in sc.LOCAL_PROVIDERS and sc.SERVER_ADDRESS not in attributes)
    )
    zone = resolve_zone(
        context.settings,
        context.catalogue,
        provider,
        local=local,
        resource_zone=_resource_zone(resource),
    )
    footprint = compute_footprint(
        provider=provider,
        model=str(model) if model is not None else None,
        usage=token_usage(attributes),
        zone=zone,
        settings=context.settings,
        catalogue=context.catalogue,
        intensity=context.intensity,
        measured=measured,
        local=local,
    )
    out = footprint_attributes(footprint)
    if sc.GEN_AI_USAGE_COST in attributes:  # the instrumentation's own cost figure wins
        out.pop(sc.GEN_AI_USAGE_COST, None)
    return out


def footprint_attributes(footprint: Footprint) -> dict[str, AttributeValue]:
    """A :class:`Footprint` as span attributes (J, g CO2e, gCO2e/kWh, USD)."""
    layers = footprint.layers
    energy = footprint.energy_j
    out: dict[str, AttributeValue] = {
        sc.SCI_ENERGY: energy.mid,
        sc.SCI_ENERGY_LOW: energy.low,
        sc.SCI_ENERGY_HIGH: energy.high,
        sc.SCI_ENERGY_ACCELERATOR: layers.accelerator.mid,
        sc.SCI_ENERGY_HOST: layers.host.mid,
        sc.SCI_ENERGY_IDLE: layers.idle.mid,
        sc.SCI_ENERGY_OVERHEAD: layers.overhead.mid,
        sc.SCI_ENERGY_METHOD: footprint.method,
        sc.SCI_BOUNDARY: footprint.boundary.value,
        sc.SCI_INTENSITY: footprint.intensity.g_per_kwh,
        sc.SCI_INTENSITY_ZONE: footprint.intensity.zone,
        sc.SCI_INTENSITY_SOURCE: footprint.intensity.source,
        sc.SCI_INTENSITY_FALLBACK: footprint.intensity.fallback,
        sc.SCI_OPERATIONAL: footprint.operational_g.mid,
        sc.SCI_EMBODIED: footprint.embodied_g,
        sc.SCI_CARBON: footprint.carbon_g.mid,
        sc.SCI_CARBON_LOW: footprint.carbon_g.low,
        sc.SCI_CARBON_HIGH: footprint.carbon_g.high,
        sc.SCI_FUNCTIONAL_UNIT: footprint.functional_unit.value,
    }
    if footprint.intensity.observed_at is not None:
        out[sc.SCI_INTENSITY_OBSERVED_AT] = footprint.intensity.observed_at.isoformat()
    if footprint.score is not None:
        out[sc.SCI_SCORE] = footprint.score
    if footprint.model is not None and footprint.method == "estimated":
        out[sc.SCI_MODEL_MATCH] = footprint.model.match
        out[sc.SCI_MODEL_CLASS] = footprint.model.spec.name
    if footprint.cost_usd is not None:
        out[sc.GEN_AI_USAGE_COST] = footprint.cost_usd
    return out


def is_local_host(host: Any) -> bool:
    """True for ``localhost`` and loopback addresses: the model ran on this machine."""
    if not isinstance(host, str) or not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _resource_zone(resource: Mapping[str, Any]) -> str | None:
    provider = resource.get(sc.CLOUD_PROVIDER)
    region = resource.get(sc.CLOUD_REGION)
    if not provider or not region:
        return None
    return zone_for_region(str(provider), str(region))


def _int(value: Any) -> int:
    """A non-negative token count; anything else (text, bool, NaN, ±inf, negative) counts as 0."""
    if value is None or isinstance(value, bool):
        return 0
    try:
        return max(int(value), 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def _float(value: Any) -> float | None:
    """A finite, non-negative number, or ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None
