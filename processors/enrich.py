"""Enrichment: GenAI span attributes + resource attributes in, ``sci.*`` attributes out.

This is the one function the span processor and the collector gateway both
call.  It imports no SDK: it works on plain mappings, so an OTLP span decoded
from protobuf is enriched exactly like an in-process ``ReadableSpan``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.estimate.inference import TokenUsage
from otel_carbon.footprint import Footprint, FootprintBasis, MeasuredEnergy, footprint_basis, resolve_zone
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.reading import IntensityLookup, IntensityReading
from otel_carbon.intensity.zones import zone_for_region
from otel_carbon.locality import Placement, place_call
from otel_carbon.processors.fastpath import ReadingAttributes, call_attributes, number_attributes, reading_attributes

AttributeValue = Any  # str | bool | int | float | sequences thereof

#: Ceiling on any one token count of one call.  The largest context windows are about
#: 2 million tokens; a count above this is a producer bug or a hostile payload.
MAX_TOKENS_PER_CALL = 10_000_000
#: Ceiling on a measured energy value of one call, J (about 278 kWh).
MAX_MEASURED_J = 1e9
_MAX_PLANS = 4096
_CACHE_AND_REASONING_KEYS = frozenset(sc.CACHE_READ_KEYS + sc.CACHE_WRITE_KEYS + sc.REASONING_KEYS)


class InvalidUsage(ValueError):
    """A token count or measurement on the span cannot be used (see :data:`MAX_TOKENS_PER_CALL`)."""


@dataclass(frozen=True)
class CallPlan:
    """How calls of one (provider, model, endpoint, resource region, measured?) are costed:
    where they ran (:mod:`otel_carbon.locality`), at which zone, and their :class:`FootprintBasis`."""

    placement: Placement
    zone: str
    basis: FootprintBasis
    #: The string and boolean attributes of these calls, per intensity reading.
    constants: ReadingAttributes


@dataclass(frozen=True)
class EnrichmentContext:
    """What enrichment needs besides the span: settings, the catalogue, intensity."""

    settings: CarbonSettings = field(default_factory=CarbonSettings)
    catalogue: Catalogue = field(default_factory=Catalogue.default)
    intensity: IntensityLookup = field(default_factory=IntensityCache)
    #: The plans of the calls seen: fixed by the settings and the catalogue, so worked out once
    #: per key (bounded; cleared when full).
    _plans: dict[tuple[Any, ...], CallPlan] = field(default_factory=dict, init=False, repr=False, compare=False)

    def plan(
        self, provider: str | None, model: str | None, attributes: Mapping[str, Any], resource: Mapping[str, Any],
        measured: bool,
    ) -> CallPlan:
        """The :class:`CallPlan` of a call (memoised; :func:`plan_call` works it out)."""
        key = (provider, model, attributes.get(sc.SERVER_ADDRESS), attributes.get(sc.SERVER_PORT),
               resource.get(sc.CLOUD_PROVIDER), resource.get(sc.CLOUD_REGION), measured)
        found = self._plans.get(key)
        if found is None:
            found = plan_call(provider, model, attributes, resource, measured, self)
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = found
        return found


def plan_call(
    provider: str | None, model: str | None, attributes: Mapping[str, Any], resource: Mapping[str, Any],
    measured: bool, context: EnrichmentContext,
) -> CallPlan:
    """Where a call ran, at which zone, and its footprint basis, worked out from scratch.

    A measured call that was not proxied ran on this machine, so it is local (a measurement
    behind a relay saw the relay, not the model's work).
    """
    settings, catalogue = context.settings, context.catalogue
    placement = place_call(provider, model, attributes.get(sc.SERVER_ADDRESS), attributes.get(sc.SERVER_PORT),
                           catalogue=catalogue, local_endpoints=settings.local_endpoints)
    local = placement.local or (measured and not placement.proxied)
    zone = resolve_zone(settings, catalogue, placement.provider, local=local, resource_zone=_resource_zone(resource))
    basis = footprint_basis(placement.provider, model, settings=settings, catalogue=catalogue, on_site=local,
                            priced=settings.record_cost and not local)
    constants = ReadingAttributes(basis, measured=measured and not placement.proxied, proxied=placement.proxied)
    return CallPlan(placement, zone, basis, constants)


class CallCarbon(NamedTuple):
    """Enrichment of one GenAI span: the attributes to add, and the token usage they were computed from.

    ``counted`` spans carry ``sci.carbon`` and ``sci.counted=true``; the others carry
    ``sci.counted=false`` and a ``sci.carbon.status`` saying why, and ``usage`` is ``None``.
    ``shared``: the first entries of ``attributes``, the same object for every call of one plan
    at one intensity reading (for encoders that encode them once); the rest are floats.
    """

    attributes: dict[str, AttributeValue]
    usage: TokenUsage | None
    shared: Mapping[str, AttributeValue] | None = None

    @property
    def counted(self) -> bool:
        return self.usage is not None

    @property
    def status(self) -> str | None:
        return self.attributes.get(sc.SCI_CARBON_STATUS)


def uncounted(status: str) -> CallCarbon:
    """The enrichment of a span that is not counted, and why (a ``sc.STATUS_*`` value)."""
    return CallCarbon({sc.SCI_COUNTED: False, sc.SCI_CARBON_STATUS: status}, None)


def is_genai(attributes: Mapping[str, Any]) -> bool:
    """True for a span that describes a GenAI model call (ours or any peer instrumentation's)."""
    if sc.GENAI_MARKER_KEYS.isdisjoint(attributes):
        return False
    return attributes.get(sc.GEN_AI_OPERATION_NAME) not in sc.NON_INFERENCE_OPERATIONS


def needs_enrichment(attributes: Mapping[str, Any]) -> bool:
    """A GenAI span not yet accounted for (one carrying ``sci.carbon`` or ``sci.counted`` is left as it is)."""
    return is_genai(attributes) and not accounted_for(attributes)


def accounted_for(attributes: Mapping[str, Any]) -> bool:
    """Whether a span already carries its accounting (``sci.carbon`` or ``sci.counted``): it is left as it is."""
    return sc.SCI_CARBON in attributes or sc.SCI_COUNTED in attributes


def token_usage(attributes: Mapping[str, Any]) -> TokenUsage:
    """Token counts from old or new GenAI names; absent counts are 0.

    Raises :class:`InvalidUsage` for a count that is negative, non-finite,
    non-numeric or above :data:`MAX_TOKENS_PER_CALL`.  The conventions count
    cached and cache-write tokens inside ``input``.  A producer that copied
    Anthropic's raw ``input_tokens`` (which excludes them) reports fewer input
    than cache tokens; those are added back.
    """
    input_tokens = _count(sc.first_present(attributes, sc.INPUT_TOKEN_KEYS))
    output_tokens = _count(sc.first_present(attributes, sc.OUTPUT_TOKEN_KEYS))
    if _CACHE_AND_REASONING_KEYS.isdisjoint(attributes):  # the common case: plain input and output
        return tuple.__new__(TokenUsage, (input_tokens, output_tokens, 0, 0, 0))  # built in C: the hot path
    cached = _count(sc.first_present(attributes, sc.CACHE_READ_KEYS))
    cache_write = _count(sc.first_present(attributes, sc.CACHE_WRITE_KEYS))
    if cached + cache_write > input_tokens:
        input_tokens += cached + cache_write
    return TokenUsage(
        input=input_tokens,
        output=output_tokens,
        cached_input=cached,
        cache_write=cache_write,
        reasoning=_count(sc.first_present(attributes, sc.REASONING_KEYS)),
    )


def measured_energy(attributes: Mapping[str, Any]) -> MeasuredEnergy | None:
    """The measurement window our instrumentation recorded on the span, if any.

    Raises :class:`InvalidUsage` for a value that is negative, non-finite,
    non-numeric or above :data:`MAX_MEASURED_J`.
    """
    if sc.SCI_MEASURED_ACCELERATOR not in attributes and sc.SCI_MEASURED_HOST not in attributes:
        return None  # the usual case: nothing measured
    accelerator = _joules(attributes.get(sc.SCI_MEASURED_ACCELERATOR))
    host = _joules(attributes.get(sc.SCI_MEASURED_HOST))
    if not accelerator and not host:  # nothing measured (a window that saw no energy is no measurement)
        return None
    devices = attributes.get(sc.SCI_MEASURED_DEVICES)
    return MeasuredEnergy(
        accelerator_j=accelerator or 0.0,
        host_j=host,
        duration_s=_joules(attributes.get(sc.SCI_MEASURED_DURATION)) or 0.0,
        devices=max(len(devices), 1) if isinstance(devices, (list, tuple)) else 1,
    )


def provider_and_model(attributes: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The provider and model names a GenAI span gives (the first name present of each; as strings)."""
    provider = sc.first_present(attributes, sc.PROVIDER_KEYS)
    model = sc.first_present(attributes, sc.MODEL_KEYS)
    return (str(provider) if provider is not None else None, str(model) if model is not None else None)


class PreparedCall(NamedTuple):
    """A GenAI call with everything but its arithmetic worked out."""

    plan: CallPlan
    usage: TokenUsage
    #: The measurement that applies (``None``: the energy is estimated from the tokens).
    measured: MeasuredEnergy | None
    #: Whether ``gen_ai.usage.cost`` is ours to write (the instrumentation's own cost wins).
    keep_cost: bool


def prepare(attributes: Mapping[str, Any], resource: Mapping[str, Any], context: EnrichmentContext) -> PreparedCall | CallCarbon:
    """The call one GenAI span's ``attributes`` describe, ready for :func:`costed`; or, for a call that
    is not counted (usage invalid, or absent: ``no_usage``, the carbon is unknown — never reported
    as 0), its :class:`CallCarbon`."""
    provider, model = provider_and_model(attributes)
    try:
        usage = token_usage(attributes)
        measured = measured_energy(attributes)
    except InvalidUsage:
        return uncounted(sc.STATUS_INVALID_USAGE)
    plan = context.plan(provider, model, attributes, resource, measured is not None)
    if plan.placement.proxied:
        measured = None  # the window saw a relay on this machine, not the model's work
    if measured is None and usage.input == 0 and usage.output == 0:
        return uncounted(sc.STATUS_NO_USAGE)
    return tuple.__new__(PreparedCall, (plan, usage, measured, sc.GEN_AI_USAGE_COST not in attributes))  # in C


def costed(call: PreparedCall, reading: IntensityReading) -> CallCarbon:
    """Carbon of a prepared call at intensity ``reading`` (its zone's); ``invalid_usage`` when a value
    would be non-finite or negative."""
    shared = call.plan.constants.at(reading)
    out = call_attributes(call.plan.basis, call.usage, reading, shared, call.measured, keep_cost=call.keep_cost)
    if out is None:
        return uncounted(sc.STATUS_INVALID_USAGE)
    return CallCarbon(out, call.usage, shared)


def enrich(attributes: Mapping[str, Any], resource: Mapping[str, Any], context: EnrichmentContext) -> CallCarbon:
    """Carbon of the call described by one GenAI span's ``attributes``.

    Pure: reads its arguments, and the intensity cache, which never blocks.
    Callers check :func:`needs_enrichment` first.  The result is counted unless the
    span's usage is invalid or absent (see :func:`prepare`).
    """
    call = prepare(attributes, resource, context)
    if isinstance(call, CallCarbon):
        return call
    return costed(call, context.intensity.lookup(call.plan.zone))


def carbon_attributes(
    attributes: Mapping[str, Any],
    resource: Mapping[str, Any],
    context: EnrichmentContext,
) -> dict[str, AttributeValue]:
    """The ``sci.*`` (and ``gen_ai.usage.cost``) attributes for one span, counted or not.

    Empty for a span that is not a GenAI call or is already accounted for.
    """
    if not needs_enrichment(attributes):
        return {}
    return enrich(attributes, resource, context).attributes


def footprint_attributes(footprint: Footprint) -> dict[str, AttributeValue]:
    """A :class:`Footprint` as span attributes (J, g CO2e, gCO2e/kWh, USD): the straightforward
    computation the fast path must equal (the test oracle), written with the same names."""
    layers = footprint.layers
    out: dict[str, AttributeValue] = reading_attributes(
        footprint.method, footprint.boundary, footprint.intensity, footprint.functional_unit,
        footprint.model if footprint.method == "estimated" else None,
    )
    out |= number_attributes(
        footprint.energy_j, (layers.accelerator.mid, layers.host.mid, layers.idle.mid, layers.overhead.mid),
        footprint.operational_g.mid, footprint.embodied_g, footprint.carbon_g,
    )
    if footprint.score is not None:
        out[sc.SCI_SCORE] = footprint.score
    if footprint.cost_usd is not None:
        out[sc.GEN_AI_USAGE_COST] = footprint.cost_usd
    return out


def _resource_zone(resource: Mapping[str, Any]) -> str | None:
    provider = resource.get(sc.CLOUD_PROVIDER)
    region = resource.get(sc.CLOUD_REGION)
    if not provider or not region:
        return None
    return zone_for_region(str(provider), str(region))


def _count(value: Any) -> int:
    """A token count: absent is 0; anything unusable raises :class:`InvalidUsage`."""
    if value is None:
        return 0
    if type(value) is int and 0 <= value <= MAX_TOKENS_PER_CALL:  # the common case
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidUsage(type(value).__name__)
    try:
        number = float(value) if not isinstance(value, int) else value
    except ValueError:
        raise InvalidUsage("not a number") from None
    if not (0 <= number <= MAX_TOKENS_PER_CALL):  # also false for NaN
        raise InvalidUsage("out of range")
    return round(number)


def _joules(value: Any) -> float | None:
    """A measured value: absent is ``None``; anything unusable raises :class:`InvalidUsage`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidUsage(type(value).__name__)
    if not (0.0 <= value <= MAX_MEASURED_J):  # also false for NaN
        raise InvalidUsage("out of range")
    return float(value)
