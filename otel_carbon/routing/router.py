"""Spatial carbon-aware routing: the deployment with the least carbon that meets the constraints.

For a request of estimated tokens, each deployment is priced (USD) and
estimated (g CO2e) with the core :func:`~otel_carbon.footprint.compute_footprint`
at its zone's intensity.  Then:

1. **Constraints** exclude deployments, in this order: ``allowed_regions``
   (data residency: always holds), ``min_quality``, ``max_latency_ms``,
   ``max_cost_usd``.  An unknown quality, latency or cost fails the
   constraint that needs it (compliance cannot be shown).  If nothing is
   left, :class:`NoDeploymentError` names the constraints that excluded each one.
2. **Carbon** decides among the rest.  Deployments within ``tie_tolerance``
   (relative, default 1 %) of the lowest carbon are a tie, broken by lower
   cost, then lower p95 latency, then declaration order.  So when the
   cost-only choice is itself within the tie it is kept, and the carbon saved
   against it is never negative.
3. The **cost-only choice** (the baseline) is the cheapest eligible
   deployment, ties by latency then order (unknown cost counts as dearest).

**Staleness rule.**  A live reading older than ``max_intensity_age_s``
(default 3 h, by its ``observed_at``), or any reading the cache flags as a
fallback (stale, missing, unknown zone), is replaced by the zone's static
annual average, and the decision says ``intensity_fallback``.  An hours-old
momentary dip must not attract traffic; the annual averages at least compare
like with like.

**Latency.**  A deployment's p95 is the observed one (:meth:`CarbonRouter.observe_latency`,
the last 200 samples, used from 20 on), else its configured ``p95_ms``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.estimate.inference import TokenUsage
from otel_carbon.footprint import compute_footprint
from otel_carbon.intensity.reading import IntensityLookup, IntensityReading
from otel_carbon.intensity.static import StaticIntensity
from otel_carbon.routing.deployment import Deployment

Constraint = Literal["allowed_regions", "min_quality", "max_latency_ms", "max_cost_usd"]

#: ISO 3166 codes the ``EU`` residency shorthand stands for (the 27 member states).
EU_COUNTRIES = frozenset(
    {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT"}
    | {"LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "HU"}
)
DEFAULT_MAX_INTENSITY_AGE_S = 3 * 3600.0
DEFAULT_TIE_TOLERANCE = 0.01
LATENCY_WINDOW = 200
LATENCY_MIN_SAMPLES = 20


class NoDeploymentError(ValueError):
    """No deployment meets the constraints; ``exclusions`` say which constraint excluded each one."""

    def __init__(self, exclusions: Sequence[Exclusion]) -> None:
        self.exclusions = tuple(exclusions)
        by_constraint: dict[str, list[str]] = {}
        for item in self.exclusions:
            by_constraint.setdefault(item.constraint, []).append(f"{item.name} ({item.detail})")
        parts = [f"{constraint} excludes {', '.join(names)}" for constraint, names in by_constraint.items()]
        super().__init__("no deployment meets the constraints: " + "; ".join(parts))


@dataclass(frozen=True)
class Constraints:
    """Limits for one request.  ``allowed_regions``: country codes (``SE``), ``EU``, zone keys
    (``US-CAL-CISO``) or ``provider:region`` names; empty means anywhere."""

    max_latency_ms: float | None = None
    max_cost_usd: float | None = None
    min_quality: int | None = None
    allowed_regions: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        max_latency_ms: float | None = None,
        max_cost_usd: float | None = None,
        min_quality: int | None = None,
        allowed_regions: Iterable[str] = (),
    ) -> Constraints:
        return cls(max_latency_ms, max_cost_usd, min_quality, frozenset(r.strip() for r in allowed_regions))


@dataclass(frozen=True)
class Exclusion:
    name: str
    constraint: Constraint
    detail: str


@dataclass(frozen=True)
class Candidate:
    """One deployment priced and estimated for the request.  g CO2e, J, USD, ms, gCO2e/kWh."""

    deployment: Deployment
    carbon_g: float
    energy_j: float
    cost_usd: float | None
    latency_ms: float | None
    intensity: IntensityReading
    order: int

    @property
    def name(self) -> str:
        return self.deployment.name


@dataclass(frozen=True)
class Decision:
    """The chosen deployment, the eligible ones ranked (chosen first), the excluded ones and the baseline."""

    chosen: Candidate
    candidates: tuple[Candidate, ...]
    excluded: tuple[Exclusion, ...]
    cost_choice: Candidate

    @property
    def saved_g(self) -> float:
        """Carbon of the cost-only choice minus the chosen one's, g CO2e (>= 0 by the tie rule)."""
        return self.cost_choice.carbon_g - self.chosen.carbon_g

    @property
    def cost_delta_usd(self) -> float | None:
        """Chosen cost minus the cost-only choice's, USD; ``None`` when either is unknown."""
        if self.chosen.cost_usd is None or self.cost_choice.cost_usd is None:
            return None
        return self.chosen.cost_usd - self.cost_choice.cost_usd

    @property
    def intensity_fallback(self) -> bool:
        return any(c.intensity.fallback for c in self.candidates)


class _FreshOrStatic:
    """An :class:`IntensityLookup` that applies the staleness rule (module docstring)."""

    def __init__(self, live: IntensityLookup, static: StaticIntensity, max_age_s: float, clock: Callable[[], float]):
        self._live, self._static, self._max_age_s, self._clock = live, static, max_age_s, clock

    def lookup(self, zone: str) -> IntensityReading:
        reading = self._live.lookup(zone)
        observed = reading.observed_at
        too_old = observed is not None and self._clock() - observed.timestamp() > self._max_age_s
        if not reading.fallback and not too_old:
            return reading
        return replace(self._static.lookup(zone), fallback=True)


class CarbonRouter:
    """Chooses among ``deployments`` (or those given per request) for each request (rules: module docstring).

    ``intensity`` is any :class:`IntensityLookup` (the live cache from
    ``build_intensity``; default the static table).  Thread-safe.
    """

    def __init__(
        self,
        deployments: Sequence[Deployment] = (),
        *,
        intensity: IntensityLookup | None = None,
        settings: CarbonSettings | None = None,
        catalogue: Catalogue | None = None,
        max_intensity_age_s: float = DEFAULT_MAX_INTENSITY_AGE_S,
        tie_tolerance: float = DEFAULT_TIE_TOLERANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.deployments = tuple(deployments)
        static = getattr(intensity, "static", None)
        static = static if isinstance(static, StaticIntensity) else StaticIntensity.shipped()
        self._intensity = _FreshOrStatic(intensity or static, static, max_intensity_age_s, clock)
        self._settings = settings or CarbonSettings.from_env()
        self._catalogue = catalogue or Catalogue.default()
        self._tolerance = tie_tolerance
        self._latencies: dict[str, deque[float]] = {}
        self._p95: dict[str, float] = {}  # observed p95 per deployment, once it has enough samples
        self._lock = threading.Lock()

    def observe_latency(self, name: str, latency_ms: float) -> None:
        """Record one observed latency (ms) of deployment ``name``; non-finite values are ignored."""
        if not math.isfinite(latency_ms) or latency_ms < 0:
            return
        with self._lock:
            window = self._latencies.setdefault(name, deque(maxlen=LATENCY_WINDOW))
            window.append(latency_ms)
            if len(window) >= LATENCY_MIN_SAMPLES:  # computed here, once per sample, not per candidate per request
                samples = sorted(window)
                self._p95[name] = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]

    def latency_ms(self, deployment: Deployment) -> float | None:
        """Observed p95 when there are enough samples, else the configured one, else ``None``."""
        observed = self._p95.get(deployment.name)
        return observed if observed is not None else deployment.p95_ms

    def choose(
        self,
        input_tokens: int,
        output_tokens: int,
        constraints: Constraints | None = None,
        *,
        deployments: Sequence[Deployment] | None = None,
    ) -> Decision:
        """The decision for one request; raises :class:`NoDeploymentError` when nothing is eligible.

        ``deployments`` replaces the router's own for this request (e.g. one LiteLLM model group);
        raises ``ValueError`` when there are none at all.
        """
        constraints = constraints or Constraints()
        usage = TokenUsage(input=max(input_tokens, 0), output=max(output_tokens, 0))
        eligible: list[Candidate] = []
        excluded: list[Exclusion] = []
        pool = deployments or self.deployments
        if not pool:
            raise ValueError("no deployments to route between")
        for order, deployment in enumerate(pool):
            candidate = self._estimate(deployment, usage, order)
            exclusion = _exclusion(candidate, constraints)
            if exclusion is None:
                eligible.append(candidate)
            else:
                excluded.append(exclusion)
        if not eligible:
            raise NoDeploymentError(excluded)
        lowest = min(c.carbon_g for c in eligible)
        ties = [c for c in eligible if c.carbon_g <= lowest * (1.0 + self._tolerance)]
        chosen = min(ties, key=_cost_key)
        ranked = [chosen] + sorted((c for c in eligible if c is not chosen), key=lambda c: (c.carbon_g, _cost_key(c)))
        return Decision(chosen, tuple(ranked), tuple(excluded), min(eligible, key=_cost_key))

    def _estimate(self, deployment: Deployment, usage: TokenUsage, order: int) -> Candidate:
        footprint = compute_footprint(
            provider=deployment.provider,
            model=deployment.model,
            usage=usage,
            zone=deployment.zone,
            settings=self._settings,
            catalogue=self._catalogue,
            intensity=self._intensity,
        )
        if deployment.prices is not None:
            cost: float | None = deployment.prices.cost_usd(usage.input, 0, 0, usage.output)
        else:
            cost = footprint.cost_usd
        return Candidate(
            deployment=deployment,
            carbon_g=footprint.carbon_g.mid,
            energy_j=footprint.energy_j.mid,
            cost_usd=cost,
            latency_ms=self.latency_ms(deployment),
            intensity=footprint.intensity,
            order=order,
        )


def _cost_key(candidate: Candidate) -> tuple[float, float, int]:
    cost = math.inf if candidate.cost_usd is None else candidate.cost_usd
    latency = math.inf if candidate.latency_ms is None else candidate.latency_ms
    return (cost, latency, candidate.order)


def resident(deployment: Deployment, allowed: frozenset[str]) -> bool:
    """Whether ``deployment`` lies in one of ``allowed`` (see :class:`Constraints`); empty allows all."""
    if not allowed:
        return True
    for item in allowed:
        key = item.upper()
        if ":" in item:
            if deployment.region == item.lower():
                return True
        elif key == "EU":
            if deployment.country in EU_COUNTRIES:
                return True
        elif key == deployment.zone or (len(key) == 2 and key == deployment.country):
            return True
    return False


def _exclusion(candidate: Candidate, limits: Constraints) -> Exclusion | None:
    deployment = candidate.deployment
    name = deployment.name
    if not resident(deployment, limits.allowed_regions):
        where = deployment.region or deployment.zone
        return Exclusion(name, "allowed_regions", f"{where} is outside {', '.join(sorted(limits.allowed_regions))}")
    if limits.min_quality is not None and (deployment.quality is None or deployment.quality < limits.min_quality):
        return Exclusion(name, "min_quality", f"quality {_or_unknown(deployment.quality)} < {limits.min_quality}")
    latency = candidate.latency_ms
    if limits.max_latency_ms is not None and (latency is None or latency > limits.max_latency_ms):
        return Exclusion(name, "max_latency_ms", f"p95 {_or_unknown(latency, ' ms')} > {limits.max_latency_ms:g} ms")
    cost = candidate.cost_usd
    if limits.max_cost_usd is not None and (cost is None or cost > limits.max_cost_usd):
        return Exclusion(name, "max_cost_usd", f"cost {_or_unknown(cost, ' USD')} > {limits.max_cost_usd:g} USD")
    return None


def _or_unknown(value: float | None, unit: str = "") -> str:
    return "unknown" if value is None else f"{value:g}{unit}"

