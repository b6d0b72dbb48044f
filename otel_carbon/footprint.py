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
from otel_carbon.estimate.catalogue import Catalogue, ModelMatch, Prices, ProviderSpec
from otel_carbon.estimate.inference import TokenEnergy, TokenUsage, inference_from, token_energy
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


@dataclass(frozen=True)
class FootprintBasis:
    """What the footprint of every call to one model at one provider needs besides its tokens,
    its measurement and the intensity: found once (:func:`footprint_basis`), used per call
    (:func:`footprint_from`).

    ``on_site``: the work ran on this site (measured, or a local server), so the site's PUE
    and idle share apply; ``priced``: the call's API price is reported.
    """

    match: ModelMatch
    factors: LayerFactors
    boundary: Boundary
    functional_unit: sci.FunctionalUnit
    #: Per-token accelerator energies (J) of the model on the provider's accelerator, and that accelerator's TDP (W).
    per_token: TokenEnergy
    tdp_w: float
    #: SCI ``TE`` of the provider's accelerator (estimated calls) and of this site's (measured calls), g CO2e.
    estimated_te_g: float
    measured_te_g: float
    lifespan_s: float
    priced: bool


def footprint_basis(
    provider: str | None, model: str | None, *, settings: CarbonSettings, catalogue: Catalogue, on_site: bool,
    priced: bool,
) -> FootprintBasis:
    """The :class:`FootprintBasis` of calls to ``model`` at ``provider``."""
    match = catalogue.find(provider, model)
    provider_spec = catalogue.provider(provider)
    if on_site:
        factors = _factors(settings.host_ratio, settings.local_idle_share, settings.local_pue)
    else:
        factors = _factors(settings.host_ratio, settings.idle_share, _pue(provider_spec))
    hardware = catalogue.hardware
    accelerator = hardware.accelerator(provider_spec.hardware if provider_spec else None)
    return FootprintBasis(
        match=match,
        factors=factors,
        boundary=settings.boundary,
        functional_unit=settings.functional_unit,
        per_token=token_energy(match.spec, accelerator),
        tdp_w=accelerator.tdp_w,
        estimated_te_g=hardware.device_embodied_g(accelerator),
        measured_te_g=hardware.device_embodied_g(hardware.accelerator(None)),
        lifespan_s=settings.lifespan_years * sci.SECONDS_PER_YEAR,
        priced=priced,
    )


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
    on_site = measured is not None or local
    basis = footprint_basis(
        provider, model, settings=settings, catalogue=catalogue, on_site=on_site,
        priced=settings.record_cost and not on_site,
    )
    return footprint_from(basis, usage, intensity.lookup(zone), measured)


def footprint_from(
    basis: FootprintBasis, usage: TokenUsage, reading: IntensityReading, measured: MeasuredEnergy | None = None
) -> Footprint:
    """Footprint of one call from its basis, tokens, measurement (if any) and intensity reading."""
    if measured is not None:
        host = None if measured.host_j is None else Range.exact(measured.host_j)
        layers = sci.layer_energy(Range.exact(measured.accelerator_j), basis.factors, basis.boundary, host)
        # SCI M: the local devices held for the window.
        embodied = sci.embodied_g(basis.measured_te_g * measured.devices, measured.duration_s, basis.lifespan_s)
        method: Method = "measured"
    else:
        estimate = inference_from(basis.per_token, usage, basis.tdp_w)
        layers = sci.layer_energy(estimate.accelerator_j, basis.factors, basis.boundary)
        embodied = sci.embodied_g(basis.estimated_te_g, estimate.gpu_seconds.mid, basis.lifespan_s)
        method = "estimated"
    result = sci.carbon(layers, reading.g_per_kwh, embodied)
    total = result.total
    return Footprint(
        method=method,
        boundary=basis.boundary,
        layers=layers,
        intensity=reading,
        operational_g=result.operational,
        embodied_g=embodied,
        carbon_g=total,
        score=sci.score(total.mid, basis.functional_unit, usage.total),
        functional_unit=basis.functional_unit,
        cost_usd=api_cost_usd(basis.match, usage) if basis.priced and measured is None else None,
        model=basis.match,
    )


@lru_cache(maxsize=256)
def _factors(host_ratio: float, idle_share: float, pue: float) -> LayerFactors:
    return LayerFactors(host_ratio, idle_share, pue)


def _pue(provider: ProviderSpec | None) -> float:
    return provider.pue if provider is not None else UNKNOWN_PROVIDER_PUE


def listed_prices(match: ModelMatch) -> Prices | None:
    """The API prices of an exactly matched model; ``None`` otherwise (a cost is never a guess)."""
    return match.spec.prices if match.match == "exact" else None


def api_cost_usd(match: ModelMatch, usage: TokenUsage) -> float | None:
    """USD for an exactly matched model with listed prices; ``None`` otherwise (never a guess)."""
    prices = listed_prices(match)
    if prices is None:
        return None
    return prices.cost_usd(
        uncached_input=usage.billed_uncached_input,
        cached_input=usage.cached_input,
        cache_write=usage.cache_write,
        output=usage.output,
    )
