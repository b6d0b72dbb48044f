"""Software Carbon Intensity arithmetic (ISO/IEC 21031:2024) — the one place carbon is computed.

``SCI = (E·I + M) per R``

* ``E`` — energy inside the stated boundary, here in joules (J);
* ``I`` — location-based grid intensity in gCO2e/kWh;
* ``M`` — embodied emissions allocated to the work, g CO2e:
  ``M = TE · (TiR / EL) · (RR / ToR)``;
* ``R`` — the functional unit (one request, or 1 000 tokens).

Every function here is pure; values carry their unit in their name or docstring.
Energy comes in layers so that ``boundary="accelerator"`` reproduces the
accelerator-only figure and ``"comprehensive"`` adds host, idle fleet share and
data-centre overhead (PUE) on top — the split Google's 2025 methodology uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

JOULES_PER_KWH = 3.6e6
SECONDS_PER_YEAR = 365.25 * 24 * 3600


class Boundary(str, Enum):
    """Which energy the SCI ``E`` term includes."""

    ACCELERATOR = "accelerator"  #: active accelerators only
    COMPREHENSIVE = "comprehensive"  #: + host CPU/DRAM, idle fleet share, PUE overhead


class FunctionalUnit(str, Enum):
    """The ``R`` of SCI."""

    REQUEST = "request"  #: one LLM call
    KILO_TOKENS = "1k_tokens"  #: 1 000 tokens (input + output)


class Range(NamedTuple):
    """A low / mid / high triple of one quantity (unit given by the holder).

    A named tuple (cheap to build on the hot path); ``plus`` adds element-wise.
    """

    low: float
    mid: float
    high: float

    @classmethod
    def exact(cls, value: float) -> Range:
        return cls(value, value, value)

    def plus(self, other: Range) -> Range:
        return Range(self.low + other.low, self.mid + other.mid, self.high + other.high)

    def scale(self, factor: float) -> Range:
        return Range(self.low * factor, self.mid * factor, self.high * factor)


ZERO = Range.exact(0.0)


@dataclass(frozen=True)
class LayerFactors:
    """How the comprehensive boundary grows from accelerator energy.

    ``host_ratio``  — host CPU + DRAM energy per joule of accelerator energy
                      (used only where host energy was not measured);
    ``idle_share``  — provisioned-but-idle capacity, as a fraction of active IT
                      energy (accelerator + host);
    ``pue``         — power usage effectiveness (≥ 1): overhead = (PUE − 1) · IT energy.
    """

    host_ratio: float
    idle_share: float
    pue: float

    def __post_init__(self) -> None:
        if self.host_ratio < 0 or self.idle_share < 0:
            raise ValueError("host_ratio and idle_share must be >= 0")
        if self.pue < 1.0:
            raise ValueError(f"pue must be >= 1.0, got {self.pue}")


@dataclass(frozen=True)
class EnergyLayers:
    """Energy of one unit of work by layer, each a :class:`Range` in joules."""

    accelerator: Range
    host: Range
    idle: Range
    overhead: Range

    @property
    def total(self) -> Range:
        """Energy inside the boundary, J."""
        return self.accelerator.plus(self.host).plus(self.idle).plus(self.overhead)


def layer_energy(
    accelerator_j: Range,
    factors: LayerFactors,
    boundary: Boundary,
    host_j: Range | None = None,
) -> EnergyLayers:
    """Build the energy layers (J) for ``boundary``.

    With ``Boundary.ACCELERATOR`` only the accelerator layer is non-zero.
    ``host_j`` is measured host energy; when absent the host layer is
    ``accelerator_j · host_ratio``.
    """
    if boundary is Boundary.ACCELERATOR:
        return EnergyLayers(accelerator_j, ZERO, ZERO, ZERO)
    host = host_j if host_j is not None else accelerator_j.scale(factors.host_ratio)
    active = accelerator_j.plus(host)
    idle = active.scale(factors.idle_share)
    overhead = active.plus(idle).scale(factors.pue - 1.0)
    return EnergyLayers(accelerator_j, host, idle, overhead)


def operational_g(energy_j: float, intensity_g_per_kwh: float) -> float:
    """Operational emissions ``O = E · I`` in g CO2e, for ``energy_j`` joules."""
    return energy_j / JOULES_PER_KWH * intensity_g_per_kwh


def embodied_g(
    total_embodied_g: float,
    time_reserved_s: float,
    expected_lifespan_s: float,
    resources_reserved: float = 1.0,
    total_resources: float = 1.0,
) -> float:
    """Embodied emissions ``M = TE · (TiR / EL) · (RR / ToR)`` in g CO2e.

    ``total_embodied_g`` (TE) is the device's whole embodied footprint in g;
    ``time_reserved_s`` (TiR) and ``expected_lifespan_s`` (EL) are seconds;
    ``resources_reserved`` / ``total_resources`` (RR / ToR) is the share of
    the device the work held (e.g. GPUs used / GPUs in the server, or 1/batch).
    """
    if expected_lifespan_s <= 0 or total_resources <= 0:
        raise ValueError("expected_lifespan_s and total_resources must be > 0")
    return total_embodied_g * (time_reserved_s / expected_lifespan_s) * (
        resources_reserved / total_resources
    )


@dataclass(frozen=True)
class CarbonResult:
    """Carbon of one unit of work, g CO2e."""

    operational: Range
    embodied: float

    @property
    def total(self) -> Range:
        return self.operational.plus(Range.exact(self.embodied))


def carbon(energy: EnergyLayers, intensity_g_per_kwh: float, embodied: float) -> CarbonResult:
    """Operational (per energy range) plus embodied emissions, g CO2e."""
    total = energy.total
    operational = Range(
        operational_g(total.low, intensity_g_per_kwh),
        operational_g(total.mid, intensity_g_per_kwh),
        operational_g(total.high, intensity_g_per_kwh),
    )
    return CarbonResult(operational, embodied)


def score(carbon_g: float, unit: FunctionalUnit, tokens: int) -> float | None:
    """SCI score: g CO2e per functional unit.

    ``None`` when the unit is per 1 000 tokens and the call reported no tokens
    (the score is undefined, not zero).
    """
    if unit is FunctionalUnit.REQUEST:
        return carbon_g
    if tokens <= 0:
        return None
    return per_thousand_tokens(carbon_g, tokens)


def per_thousand_tokens(carbon_g: Any, tokens: Any) -> Any:
    """g CO2e per 1 000 tokens, for ``tokens`` > 0 (numbers, or arrays element by element)."""
    return carbon_g * 1000.0 / tokens
