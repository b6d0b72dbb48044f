"""The footprint of one LLM call: energy by layer, intensity, carbon, SCI score and cost.

This composes the catalogue, the estimator, the intensity lookup and the SCI
arithmetic; it is what both span enrichment and ``otel-carbon estimate`` call,
so a call gets the same numbers whichever path it takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from otel_carbon import sci
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue, ModelMatch, ProviderSpec
from otel_carbon.estimate.inference import TokenUsage, embodied_share_g, estimate_inference
from otel_carbon.intensity.reading import IntensityLookup, IntensityReading
from otel_carbon.sci import Boundary, EnergyLayers, LayerFactors, Range

Method = Literal["measured", "estimated"]

# Fallback PUE for a remote provider the catalogue does not list (industry
# average, Uptime Institute 2024 survey ≈ 1.56 is for all sites; hyperscalers
# report 1.09–1.2 — we take 1.2, documented in docs/methodology.md).
UNKNOWN_PROVIDER_PUE = 1.2


@dataclass(frozen=True)
class MeasuredEnergy:
    """Energy measured around a call on this machine (J), and the window's length (s)."""

    accelerator_j: float
    host_j: float | None
    duration_s: float
    devices: int = 1


@dataclass(frozen=True)
class Footprint:
    """Everything otel-carbon reports for one call. Energy J, carbon g CO2e, cost USD."""

    method: Method
    boundary: Boundary
    layers: EnergyLayers
    intensity: IntensityReading
    operational_g: Range
    embodied_g: float
    carbon_g: Range
    score: float | None
    functional_unit: sci.FunctionalUnit
    cost_usd: float | None
    model: ModelMatch | None

    @property
    def energy_j(self) -> Range:
        return self.layers.total


def resolve_zone(
    settings: CarbonSettings,
    catalogue: Catalogue,
    provider: str | None,
    *,
    local: bool,
    resource_zone: str | None = None,
) -> str:
    """The grid zone whose intensity applies to a call.

    Local work (measured, or a loopback server) runs here: ``settings.zone``,
    else the zone of the resource's cloud region, else ``WORLD``.  A remote API
    call runs where the provider serves it: ``settings.provider_zones``, else
    the catalogue's serving zone, else ``settings.remote_zone``.
    """
    if local:
        return settings.zone or resource_zone or "WORLD"
    if provider and provider in settings.provider_zones:
        return settings.provider_zones[provider]
    spec = catalogue.provider(provider)
    if spec is not None and spec.serving_zone:
        return spec.serving_zone
    return settings.remote_zone


def compute_footprint(
    *,
    provider: str | None,
    model: str | None,
    usage: TokenUsage,
    zone: str,
    settings: CarbonSettings,
    catalogue: Catalogue,
    intensity: IntensityLookup,
    measured: MeasuredEnergy | None = None,
    local: bool = False,
) -> Footprint:
    """Footprint of one call: measured energy when given, else estimated from model and tokens.

    ``local`` (implied by ``measured``) says the work ran on this site, so the
    site's PUE and idle share apply instead of the provider's.
    """
    reading = intensity.lookup(zone)
    match = catalogue.find(provider, model)
    provider_spec = catalogue.provider(provider)
    if measured is not None or local:
        factors = _factors(settings.host_ratio, settings.local_idle_share, settings.local_pue)
    else:
        factors = _factors(settings.host_ratio, settings.idle_share, _pue(provider_spec))
    if measured is not None:
        host = None if measured.host_j is None else Range.exact(measured.host_j)
        layers = sci.layer_energy(Range.exact(measured.accelerator_j), factors, settings.boundary, host)
        lifespan_s = settings.lifespan_years * sci.SECONDS_PER_YEAR
        embodied = _measured_embodied_g(catalogue, measured, lifespan_s)
        method: Method = "measured"
    else:
        accelerator = catalogue.hardware.accelerator(provider_spec.hardware if provider_spec else None)
        estimate = estimate_inference(match.spec, usage, accelerator)
        layers = sci.layer_energy(estimate.accelerator_j, factors, settings.boundary)
        embodied = embodied_share_g(estimate, catalogue.hardware, accelerator, settings.lifespan_years)
        method = "estimated"
    result = sci.carbon(layers, reading.g_per_kwh, embodied)
    total = result.total
    return Footprint(
        method=method,
        boundary=settings.boundary,
        layers=layers,
        intensity=reading,
        operational_g=result.operational,
        embodied_g=embodied,
        carbon_g=total,
        score=sci.score(total.mid, settings.functional_unit, usage.total),
        functional_unit=settings.functional_unit,
        cost_usd=_cost(match, usage) if settings.record_cost and measured is None and not local else None,
        model=match,
    )


@lru_cache(maxsize=256)
def _factors(host_ratio: float, idle_share: float, pue: float) -> LayerFactors:
    return LayerFactors(host_ratio, idle_share, pue)


def _pue(provider: ProviderSpec | None) -> float:
    return provider.pue if provider is not None else UNKNOWN_PROVIDER_PUE


def _measured_embodied_g(catalogue: Catalogue, measured: MeasuredEnergy, lifespan_s: float) -> float:
    """Embodied share of the local devices held for the window (SCI ``M``), g CO2e."""
    hardware = catalogue.hardware
    accelerator = hardware.accelerator(None)
    te_g = 1000.0 * measured.devices * (
        accelerator.embodied_kg + hardware.server_embodied_kg / hardware.accelerators_per_server
    )
    return sci.embodied_g(te_g, measured.duration_s, lifespan_s)


def _cost(match: ModelMatch, usage: TokenUsage) -> float | None:
    """USD for an exactly matched model with listed prices; ``None`` otherwise (never a guess)."""
    prices = match.spec.prices
    if match.match != "exact" or prices is None:
        return None
    return prices.cost_usd(
        uncached_input=max(usage.uncached_input - usage.cache_write, 0),
        cached_input=usage.cached_input,
        cache_write=usage.cache_write,
        output=usage.output,
    )
