"""Settings: from ``configure()`` arguments, else ``OTEL_CARBON_*`` environment variables.

A bad value fails at start-up with :class:`ConfigError`, whose message names the
variable and the accepted values — never later, on the hot path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from otel_carbon.sci import Boundary, FunctionalUnit

T = TypeVar("T")

ENV_PREFIX = "OTEL_CARBON_"


class ConfigError(ValueError):
    """A setting has a value otel-carbon cannot use."""


@dataclass(frozen=True)
class CarbonSettings:
    """Everything the enrichment needs to know that is not on the span.

    Zones are grid zones as used by ``data/grid_intensity.csv`` (ISO 3166-1
    alpha-2 country codes, or ``WORLD``) or provider zone keys.
    """

    #: Grid zone where this process runs (local inference, measured energy).
    zone: str | None = None
    #: Grid zone per GenAI provider for remote API calls, e.g. ``{"openai": "US"}``.
    #: Unset providers use the catalogue's serving zone, then ``remote_zone``.
    provider_zones: Mapping[str, str] = field(default_factory=dict)
    #: Zone for remote calls whose provider has no known serving zone.
    remote_zone: str = "US"
    boundary: Boundary = Boundary.COMPREHENSIVE
    functional_unit: FunctionalUnit = FunctionalUnit.REQUEST
    #: Host CPU+DRAM joules per accelerator joule, when host energy is not measured.
    #: Default 0.25/0.58 from Google's measured median-prompt split (Elsworth et al. 2025).
    host_ratio: float = 0.25 / 0.58
    #: Idle fleet share of active IT energy for remote providers: 0.10/(0.58+0.25).
    idle_share: float = 0.10 / (0.58 + 0.25)
    #: Idle share applied to locally measured energy (a configured fraction; 0 = none).
    local_idle_share: float = 0.0
    #: PUE of the site where local inference runs.
    local_pue: float = 1.0
    #: Expected lifespan of servers and accelerators for embodied carbon, years.
    lifespan_years: float = 4.0
    #: Span attribute / resource / baggage keys copied onto the carbon metrics.
    dimensions: tuple[str, ...] = ()
    #: Loopback or private endpoints (``host`` or ``host:port``) that are local inference even when
    #: the model's name is a hosted model's (see :mod:`otel_carbon.locality`).
    local_endpoints: tuple[str, ...] = ()
    #: Record ``gen_ai.usage.cost`` (USD) from catalogue prices.
    record_cost: bool = True
    #: Emit the carbon metrics (counters, histogram, gauge).
    metrics: bool = True

    # --- the ledger (see docs/ledger.md) ---
    #: Where each counted call is written as a line item: ``sqlite:///PATH`` or ``postgresql://…``; unset = none.
    ledger: str | None = field(default=None, repr=False)  # may hold a password
    #: Delete ledger rows older than this many days (at start, then hourly); unset = keep everything.
    ledger_retention_days: float | None = None
    #: Scope class per supply (``local``, ``cloud``, ``hosted`` → ``scope2`` | ``scope3.1``), e.g. ``cloud=scope2``.
    ledger_scopes: Mapping[str, str] = field(default_factory=dict)

    # --- live grid intensity (see docs/intensity.md) ---
    #: Live providers in priority order (electricitymaps, watttime, carbonaware, neso);
    #: empty = every provider whose key or URL is set.  ``none`` = static table only.
    intensity_providers: tuple[str, ...] = ()
    #: Zones refreshed from start-up (zones looked up later are added automatically).
    intensity_zones: tuple[str, ...] = ()
    #: Fetch forecasts where the plan allows (for ``best_window``).
    intensity_forecast: bool = True
    #: Refresh interval, s; default: each provider's data granularity (5 min to 1 h).
    intensity_ttl_s: float | None = None
    #: Per-request HTTP timeout, s.
    intensity_timeout_s: float = 5.0
    #: Refresh calls per provider per hour; default: each provider's own budget.
    intensity_budget_per_hour: float | None = None
    #: Cache file for a warm restart; default under the user cache dir; ``off`` disables.
    intensity_cache_file: str | None = None
    electricitymaps_api_key: str | None = field(default=None, repr=False)
    electricitymaps_base_url: str = "https://api.electricitymaps.com"
    electricitymaps_api_version: str = "v4"
    #: ``lifecycle`` (the API default, LCA) or ``direct`` (combustion only).
    electricitymaps_emission_factor: str = "lifecycle"
    watttime_username: str | None = None
    watttime_password: str | None = field(default=None, repr=False)
    watttime_base_url: str = "https://api.watttime.org"
    #: ``co2_moer`` (marginal) or ``co2_aoer`` (average).
    watttime_signal: str = "co2_moer"
    #: Zone → WattTime region, e.g. ``{"US-CAL-CISO": "CAISO_NORTH"}``.
    watttime_regions: Mapping[str, str] = field(default_factory=dict)
    neso_base_url: str = "https://api.carbonintensity.org.uk"
    #: Base URL of a Carbon Aware SDK WebAPI (self-hosted); unset = not used.
    carbonaware_url: str | None = None
    #: Zone → Carbon Aware SDK location name, e.g. ``{"IE": "northeurope"}``.
    carbonaware_locations: Mapping[str, str] = field(default_factory=dict)

    # --- measured energy (see docs/energy.md) ---
    #: Measure device energy around local inference (NVML GPUs, RAPL or a CPU model).
    energy_meter: bool = True
    #: Power samples per second taken by the one background sampler while windows are open.
    energy_sample_hz: float = 10.0
    #: Root of the powercap sysfs tree holding RAPL domains.
    energy_rapl_path: str = "/sys/class/powercap"
    #: How overlapping windows share a device: ``tokens`` (token rate where known) or ``time``.
    energy_attribution: str = "tokens"
    #: CPU TDP in W for the CPU power model; unset = looked up by CPU model name.
    energy_cpu_tdp_w: float | None = None
    #: Memory power per GB of this process's resident memory, W/GB (used when RAPL has no DRAM domain).
    energy_memory_w_per_gb: float = 0.375

    def __post_init__(self) -> None:
        _check_range("host_ratio", self.host_ratio, 0.0, 100.0)
        _check_range("idle_share", self.idle_share, 0.0, 10.0)
        _check_range("local_idle_share", self.local_idle_share, 0.0, 10.0)
        _check_range("local_pue", self.local_pue, 1.0, 5.0)
        _check_range("lifespan_years", self.lifespan_years, 0.1, 50.0)
        _check_range("intensity_timeout_s", self.intensity_timeout_s, 0.1, 120.0)
        if self.intensity_ttl_s is not None:
            _check_range("intensity_ttl_s", self.intensity_ttl_s, 10.0, 86400.0)
        if self.intensity_budget_per_hour is not None:
            _check_range("intensity_budget_per_hour", self.intensity_budget_per_hour, 1.0, 100000.0)
        _check_choice("electricitymaps_api_version", self.electricitymaps_api_version, ("v3", "v4"))
        _check_choice("electricitymaps_emission_factor", self.electricitymaps_emission_factor, ("lifecycle", "direct"))
        _check_choice("watttime_signal", self.watttime_signal, ("co2_moer", "co2_aoer"))
        _check_range("energy_sample_hz", self.energy_sample_hz, 0.5, 1000.0)
        _check_choice("energy_attribution", self.energy_attribution, ("tokens", "time"))
        if self.energy_cpu_tdp_w is not None:
            _check_range("energy_cpu_tdp_w", self.energy_cpu_tdp_w, 1.0, 2000.0)
        _check_range("energy_memory_w_per_gb", self.energy_memory_w_per_gb, 0.0, 10.0)
        if self.ledger_retention_days is not None:
            _check_range("ledger_retention_days", self.ledger_retention_days, 1.0, 36500.0)
        for supply, scope in self.ledger_scopes.items():
            _check_choice("ledger_scopes", supply, LEDGER_SUPPLIES)
            _check_choice("ledger_scopes", scope, LEDGER_SCOPES)
        if self.zone is not None:
            _check_zone("zone", self.zone)
        _check_zone("remote_zone", self.remote_zone)
        for provider, zone in self.provider_zones.items():
            _check_zone("provider_zones", zone, f"[{provider}]")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> CarbonSettings:
        """Settings from ``OTEL_CARBON_*`` variables; keyword ``overrides`` win.

        Raises :class:`ConfigError` naming the variable for a bad value.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _PARSERS[f.name](name, raw.strip())
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for key, value in overrides.items():
            if value is None:
                continue
            if isinstance(value, str) and key in _COERCED_FROM_STRING:
                value = _PARSERS[key](key, value)
            values[key] = tuple(value) if key in ("dimensions", "local_endpoints") else value
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def with_changes(self, **changes: Any) -> CarbonSettings:
        return replace(self, **changes)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()} / {name}={value!r}: expected a number in [{low}, {high}]"
        )


def _check_choice(name: str, value: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} / {name}={value!r}: expected one of {', '.join(accepted)}")


def _check_zone(name: str, zone: str, item: str = "") -> None:
    """A grid zone the static table covers (an unknown one would silently be priced at the world average)."""
    from otel_carbon.intensity.static import check_zone  # the table loads on first use

    try:
        check_zone(zone)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} / {name}{item}: {exc}") from None


def _parse_text(name: str, raw: str) -> str:
    return raw


def _parse_url(name: str, raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{name}: expected an http:// or https:// URL")
    return raw


def _parse_enum(enum_type: type[T]) -> Callable[[str, str], T]:
    def parse(name: str, raw: str) -> T:
        try:
            return enum_type(raw.lower())  # type: ignore[call-arg]
        except ValueError:
            accepted = ", ".join(m.value for m in enum_type)  # type: ignore[attr-defined]
            raise ConfigError(f"{name}={raw!r}: expected one of {accepted}") from None

    return parse


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected one of true, false")


def _parse_zone(name: str, raw: str) -> str:
    if not raw.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{name}={raw!r}: expected a zone key such as FR, US-CAL-CISO or WORLD")
    return raw


def _parse_mapping(name: str, raw: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{name}={raw!r}: expected provider=ZONE pairs separated by commas")
        result[key.strip()] = _parse_zone(name, value.strip())
    return result


def _parse_ledger(name: str, raw: str) -> str:
    from otel_carbon.ledger.url import parse_ledger_url

    try:
        parse_ledger_url(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return raw


def _parse_scopes(name: str, raw: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in LEDGER_SUPPLIES or value.strip() not in LEDGER_SCOPES:
            raise ConfigError(f"{name}={raw!r}: expected SUPPLY=SCOPE pairs separated by commas, SUPPLY one of "
                              f"{', '.join(LEDGER_SUPPLIES)}, SCOPE one of {', '.join(LEDGER_SCOPES)}")
        result[key.strip()] = value.strip()
    return result


#: Who runs the hardware of a call, and the GHG Protocol scope classes a ledger row can have (docs/ledger.md).
LEDGER_SUPPLIES = ("local", "cloud", "hosted")
LEDGER_SCOPES = ("scope2", "scope3.1")


def _parse_keys(name: str, raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError(f"{name}={raw!r}: expected attribute keys separated by commas")
    return keys


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "zone": _parse_zone,
    "provider_zones": _parse_mapping,
    "remote_zone": _parse_zone,
    "boundary": _parse_enum(Boundary),
    "functional_unit": _parse_enum(FunctionalUnit),
    "host_ratio": _parse_float,
    "idle_share": _parse_float,
    "local_idle_share": _parse_float,
    "local_pue": _parse_float,
    "lifespan_years": _parse_float,
    "dimensions": _parse_keys,
    "local_endpoints": _parse_keys,
    "record_cost": _parse_bool,
    "metrics": _parse_bool,
    "ledger": _parse_ledger,
    "ledger_retention_days": _parse_float,
    "ledger_scopes": _parse_scopes,
    "intensity_providers": _parse_keys,
    "intensity_zones": _parse_keys,
    "intensity_forecast": _parse_bool,
    "intensity_ttl_s": _parse_float,
    "intensity_timeout_s": _parse_float,
    "intensity_budget_per_hour": _parse_float,
    "intensity_cache_file": _parse_text,
    "electricitymaps_api_key": _parse_text,
    "electricitymaps_base_url": _parse_url,
    "electricitymaps_api_version": _parse_text,
    "electricitymaps_emission_factor": _parse_text,
    "watttime_username": _parse_text,
    "watttime_password": _parse_text,
    "watttime_base_url": _parse_url,
    "watttime_signal": _parse_text,
    "watttime_regions": _parse_mapping,
    "neso_base_url": _parse_url,
    "carbonaware_url": _parse_url,
    "carbonaware_locations": _parse_mapping,
    "energy_meter": _parse_bool,
    "energy_sample_hz": _parse_float,
    "energy_rapl_path": _parse_text,
    "energy_attribution": _parse_text,
    "energy_cpu_tdp_w": _parse_float,
    "energy_memory_w_per_gb": _parse_float,
}

#: Fields whose ``configure()`` argument may also be given as its string form.
_COERCED_FROM_STRING = frozenset(
    {
        "boundary",
        "functional_unit",
        "provider_zones",
        "dimensions",
        "local_endpoints",
        "intensity_providers",
        "intensity_zones",
        "watttime_regions",
        "carbonaware_locations",
        "ledger",
        "ledger_scopes",
    }
)
