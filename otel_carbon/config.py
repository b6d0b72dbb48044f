"""Settings: from ``configure()`` arguments, else ``OTEL_CARBON_*`` environment variables.

Each setting is declared once, as a field of :class:`CarbonSettings`: its type, its default,
and (through :func:`_setting`) how its ``OTEL_CARBON_<NAME>`` variable is parsed and which
values it accepts.  :func:`environment_variables` lists every variable from that one declaration.

A bad value fails at start-up with :class:`ConfigError`, whose message names the
variable and the accepted values — never later, on the hot path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any, TypeVar

from otel_carbon.sci import Boundary, FunctionalUnit

T = TypeVar("T")

ENV_PREFIX = "OTEL_CARBON_"
#: Who runs the hardware of a call, and the GHG Protocol scope classes a ledger row can have (docs/ledger.md).
LEDGER_SUPPLIES = ("local", "cloud", "hosted")
LEDGER_SCOPES = ("scope2", "scope3.1")


class ConfigError(ValueError):
    """A setting has a value otel-carbon cannot use."""


def env_var(name: str) -> str:
    """The environment variable of setting ``name``: ``OTEL_CARBON_<NAME>``."""
    return ENV_PREFIX + name.upper()


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ConfigError(
            f"{env_var(name)} / {name}={value!r}: expected a number in [{low}, {high}]"
        )


def _check_choice(name: str, value: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ConfigError(f"{env_var(name)} / {name}={value!r}: expected one of {', '.join(accepted)}")


def _check_zone(name: str, zone: str, item: str = "") -> None:
    """A grid zone the static table covers (an unknown one would silently be priced at the world average)."""
    from otel_carbon.intensity.static import check_zone  # the table loads on first use

    try:
        check_zone(zone)
    except ValueError as exc:
        raise ConfigError(f"{env_var(name)} / {name}{item}: {exc}") from None


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


_parse_boundary = _parse_enum(Boundary)
_parse_functional_unit = _parse_enum(FunctionalUnit)


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None


#: How a boolean setting may be spelled (compared in lower case).
BOOL_SPELLINGS: Mapping[str, bool] = {
    "true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False,
}


def _parse_bool(name: str, raw: str) -> bool:
    value = BOOL_SPELLINGS.get(raw.lower())
    if value is None:
        raise ConfigError(f"{name}={raw!r}: expected one of true, false")
    return value


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


def _parse_keys(name: str, raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError(f"{name}={raw!r}: expected attribute keys separated by commas")
    return keys


def _check_zones(name: str, zones: Mapping[str, str]) -> None:
    for key, zone in zones.items():
        _check_zone(name, zone, f"[{key}]")


def _check_scopes(name: str, scopes: Mapping[str, str]) -> None:
    for supply, scope in scopes.items():
        _check_choice(name, supply, LEDGER_SUPPLIES)
        _check_choice(name, scope, LEDGER_SCOPES)


_NOT_SET: Any = object()


def _setting(
    default: Any = _NOT_SET,
    *,
    parse: Callable[[str, str], Any],
    factory: Callable[[], Any] | None = None,
    from_string: bool = False,
    as_tuple: bool = False,
    within: tuple[float, float] | None = None,
    choices: tuple[str, ...] | None = None,
    check: Callable[[str, Any], None] | None = None,
    secret: bool = False,
) -> Any:
    """One setting's declaration: a dataclass field whose metadata says how to read and check it.

    ``parse(variable, raw)`` turns the ``OTEL_CARBON_<NAME>`` text into the value (raising
    :class:`ConfigError` naming ``variable``); ``from_string``: a ``configure()`` argument may also
    be that text; ``as_tuple``: an argument given as any iterable is stored as a tuple; ``within``
    (low, high), ``choices`` and ``check(name, value)`` validate a set value (``None`` is never
    checked); ``secret``: kept out of ``repr``.
    """
    metadata = {"parse": parse, "from_string": from_string, "as_tuple": as_tuple,
                "within": within, "choices": choices, "check": check}
    if factory is not None:
        return field(default_factory=factory, repr=not secret, metadata=metadata)
    return field(default=default, repr=not secret, metadata=metadata)


@dataclass(frozen=True)
class CarbonSettings:
    """Everything the enrichment needs to know that is not on the span.

    Zones are grid zones as used by ``data/grid_intensity.csv`` (ISO 3166-1
    alpha-2 country codes, or ``WORLD``) or provider zone keys.
    """

    #: Grid zone where this process runs (local inference, measured energy).
    zone: str | None = _setting(None, parse=_parse_zone, check=_check_zone)
    #: Grid zone per GenAI provider for remote API calls, e.g. ``{"openai": "US"}``.
    #: Unset providers use the catalogue's serving zone, then ``remote_zone``.
    provider_zones: Mapping[str, str] = _setting(factory=dict, parse=_parse_mapping, from_string=True,
                                                 check=_check_zones)
    #: Zone for remote calls whose provider has no known serving zone.
    remote_zone: str = _setting("US", parse=_parse_zone, check=_check_zone)
    boundary: Boundary = _setting(Boundary.COMPREHENSIVE, parse=_parse_boundary, from_string=True)
    functional_unit: FunctionalUnit = _setting(FunctionalUnit.REQUEST, parse=_parse_functional_unit,
                                               from_string=True)
    #: Host CPU+DRAM joules per accelerator joule, when host energy is not measured.
    #: Default 0.25/0.58 from Google's measured median-prompt split (Elsworth et al. 2025).
    host_ratio: float = _setting(0.25 / 0.58, parse=_parse_float, within=(0.0, 100.0))
    #: Idle fleet share of active IT energy for remote providers: 0.10/(0.58+0.25).
    idle_share: float = _setting(0.10 / (0.58 + 0.25), parse=_parse_float, within=(0.0, 10.0))
    #: Idle share applied to locally measured energy (a configured fraction; 0 = none).
    local_idle_share: float = _setting(0.0, parse=_parse_float, within=(0.0, 10.0))
    #: PUE of the site where local inference runs.
    local_pue: float = _setting(1.0, parse=_parse_float, within=(1.0, 5.0))
    #: Expected lifespan of servers and accelerators for embodied carbon, years.
    lifespan_years: float = _setting(4.0, parse=_parse_float, within=(0.1, 50.0))
    #: Span attribute / resource / baggage keys copied onto the carbon metrics.
    dimensions: tuple[str, ...] = _setting((), parse=_parse_keys, from_string=True, as_tuple=True)
    #: Loopback or private endpoints (``host`` or ``host:port``) that are local inference even when
    #: the model's name is a hosted model's (see :mod:`otel_carbon.locality`).
    local_endpoints: tuple[str, ...] = _setting((), parse=_parse_keys, from_string=True, as_tuple=True)
    #: Record ``gen_ai.usage.cost`` (USD) from catalogue prices.
    record_cost: bool = _setting(True, parse=_parse_bool)
    #: Emit the carbon metrics (counters, histogram, gauge).
    metrics: bool = _setting(True, parse=_parse_bool)

    # --- the ledger (see docs/ledger.md) ---
    #: Where each counted call is written as a line item: ``sqlite:///PATH`` or ``postgresql://…``; unset = none.
    ledger: str | None = _setting(None, parse=_parse_ledger, from_string=True, secret=True)  # may hold a password
    #: Delete ledger rows older than this many days (at start, then hourly); unset = keep everything.
    ledger_retention_days: float | None = _setting(None, parse=_parse_float, within=(1.0, 36500.0))
    #: Scope class per supply (``local``, ``cloud``, ``hosted`` → ``scope2`` | ``scope3.1``), e.g. ``cloud=scope2``.
    ledger_scopes: Mapping[str, str] = _setting(factory=dict, parse=_parse_scopes, from_string=True,
                                                check=_check_scopes)

    # --- live grid intensity (see docs/intensity.md) ---
    #: Live providers in priority order (electricitymaps, watttime, carbonaware, neso);
    #: empty = every provider whose key or URL is set.  ``none`` = static table only.
    intensity_providers: tuple[str, ...] = _setting((), parse=_parse_keys, from_string=True)
    #: Zones refreshed from start-up (zones looked up later are added automatically).
    intensity_zones: tuple[str, ...] = _setting((), parse=_parse_keys, from_string=True)
    #: Fetch forecasts where the plan allows (for ``best_window``).
    intensity_forecast: bool = _setting(True, parse=_parse_bool)
    #: Refresh interval, s; default: each provider's data granularity (5 min to 1 h).
    intensity_ttl_s: float | None = _setting(None, parse=_parse_float, within=(10.0, 86400.0))
    #: Per-request HTTP timeout, s.
    intensity_timeout_s: float = _setting(5.0, parse=_parse_float, within=(0.1, 120.0))
    #: Refresh calls per provider per hour; default: each provider's own budget.
    intensity_budget_per_hour: float | None = _setting(None, parse=_parse_float, within=(1.0, 100000.0))
    #: Cache file for a warm restart; default under the user cache dir; ``off`` disables.
    intensity_cache_file: str | None = _setting(None, parse=_parse_text)
    electricitymaps_api_key: str | None = _setting(None, parse=_parse_text, secret=True)
    electricitymaps_base_url: str = _setting("https://api.electricitymaps.com", parse=_parse_url)
    electricitymaps_api_version: str = _setting("v4", parse=_parse_text, choices=("v3", "v4"))
    #: ``lifecycle`` (the API default, LCA) or ``direct`` (combustion only).
    electricitymaps_emission_factor: str = _setting("lifecycle", parse=_parse_text, choices=("lifecycle", "direct"))
    watttime_username: str | None = _setting(None, parse=_parse_text)
    watttime_password: str | None = _setting(None, parse=_parse_text, secret=True)
    watttime_base_url: str = _setting("https://api.watttime.org", parse=_parse_url)
    #: ``co2_moer`` (marginal) or ``co2_aoer`` (average).
    watttime_signal: str = _setting("co2_moer", parse=_parse_text, choices=("co2_moer", "co2_aoer"))
    #: Zone → WattTime region, e.g. ``{"US-CAL-CISO": "CAISO_NORTH"}``.
    watttime_regions: Mapping[str, str] = _setting(factory=dict, parse=_parse_mapping, from_string=True)
    neso_base_url: str = _setting("https://api.carbonintensity.org.uk", parse=_parse_url)
    #: Base URL of a Carbon Aware SDK WebAPI (self-hosted); unset = not used.
    carbonaware_url: str | None = _setting(None, parse=_parse_url)
    #: Zone → Carbon Aware SDK location name, e.g. ``{"IE": "northeurope"}``.
    carbonaware_locations: Mapping[str, str] = _setting(factory=dict, parse=_parse_mapping, from_string=True)

    # --- measured energy (see docs/energy.md) ---
    #: Measure device energy around local inference (NVML GPUs, RAPL or a CPU model).
    energy_meter: bool = _setting(True, parse=_parse_bool)
    #: Power samples per second taken by the one background sampler while windows are open.
    energy_sample_hz: float = _setting(10.0, parse=_parse_float, within=(0.5, 1000.0))
    #: Root of the powercap sysfs tree holding RAPL domains.
    energy_rapl_path: str = _setting("/sys/class/powercap", parse=_parse_text)
    #: How overlapping windows share a device: ``tokens`` (token rate where known) or ``time``.
    energy_attribution: str = _setting("tokens", parse=_parse_text, choices=("tokens", "time"))
    #: CPU TDP in W for the CPU power model; unset = looked up by CPU model name.
    energy_cpu_tdp_w: float | None = _setting(None, parse=_parse_float, within=(1.0, 2000.0))
    #: Memory power per GB of this process's resident memory, W/GB (used when RAPL has no DRAM domain).
    energy_memory_w_per_gb: float = _setting(0.375, parse=_parse_float, within=(0.0, 10.0))

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.metadata["within"] is not None:
                _check_range(f.name, value, *f.metadata["within"])
            if f.metadata["choices"] is not None:
                _check_choice(f.name, value, f.metadata["choices"])
            if f.metadata["check"] is not None:
                f.metadata["check"](f.name, value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> CarbonSettings:
        """Settings from ``OTEL_CARBON_*`` variables; keyword ``overrides`` win.

        Raises :class:`ConfigError` naming the variable for a bad value.
        """
        env = os.environ if environ is None else environ
        declared = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for f in declared.values():
            name = env_var(f.name)
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = f.metadata["parse"](name, raw.strip())
        unknown = set(overrides) - set(declared)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for key, value in overrides.items():
            if value is None:
                continue
            meta = declared[key].metadata
            if isinstance(value, str) and meta["from_string"]:
                value = meta["parse"](key, value)
            values[key] = tuple(value) if meta["as_tuple"] else value
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def with_changes(self, **changes: Any) -> CarbonSettings:
        return replace(self, **changes)


def environment_variables() -> dict[str, Field[Any]]:
    """Every ``OTEL_CARBON_*`` setting variable → its field (name, default, metadata), in declaration order."""
    return {env_var(f.name): f for f in fields(CarbonSettings)}
