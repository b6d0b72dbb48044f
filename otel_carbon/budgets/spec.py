"""The budgets file: budgets per team / feature / service with limits, thresholds and anomaly rules.

Shape (YAML; JSON works without PyYAML)::

    dashboard: https://grafana.example.com/d/otel-carbon   # optional, linked from every alert
    evaluation_interval: 1m                                 # optional, the rule group's interval
    budgets:
      - name: search-monthly                  # unique; [A-Za-z0-9_.-]
        owner: search-team                    # who answers for it (label budget_owner)
        receiver: search-pager                # optional Alertmanager receiver (generated routes)
        labels: {team: search, slack: "#search"}   # optional extra alert labels for routing
        selector: {team: search, feature: summarise}  # keys: team feature service model provider zone
        period: month                         # month | quarter | {start: 2026-01-05, every: 14d}
        limits: {carbon: 50 kg, energy: 120 kWh, cost: 300 USD}   # at least one
        thresholds: {actual: [80%, 100%], forecast: [100%]}        # fractions of each limit
        anomaly: {metrics: [carbon, cost], factor: 1.5, window: 1h, min_requests: 20}   # optional
        for: {actual: 5m, forecast: 1h, anomaly: 30m}               # optional, alert `for:`

Units: carbon in g CO2e (``g``, ``kg``, ``t``), energy in J (``J``, ``kJ``, ``MJ``, ``Wh``, ``kWh``,
``MWh``), cost in USD; a bare number is the base unit (g, J, USD).  Every error names the budget
and the key (:class:`BudgetError`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon._documents import parse_yaml_or_json
from otel_carbon._extras import missing_extra

#: Selector key → the Prometheus label the project's metrics carry (``docs/querying.md``): configured
#: ``OTEL_CARBON_DIMENSIONS`` keys with dots as underscores.  ``team``/``feature`` are ``app.team`` /
#: ``app.feature``; ``service`` is ``service.name`` listed as a dimension.
DIMENSIONS: dict[str, str] = {
    key: attribute.replace(".", "_")
    for key, attribute in {
        "team": sc.DIM_APP_TEAM,
        "feature": sc.DIM_APP_FEATURE,
        "service": sc.SERVICE_NAME,
        "model": sc.DIM_MODEL,
        "provider": sc.DIM_PROVIDER,
        "zone": sc.DIM_ZONE,
    }.items()
}

KINDS = ("carbon", "energy", "cost")
#: Base unit per kind, the unit of the exported metric.
BASE_UNITS: dict[str, str] = {"carbon": "g", "energy": "J", "cost": "USD"}
_UNITS: dict[str, dict[str, float]] = {
    "carbon": {"g": 1.0, "kg": 1e3, "t": 1e6},
    "energy": {"j": 1.0, "kj": 1e3, "mj": 1e6, "wh": 3600.0, "kwh": 3.6e6, "mwh": 3.6e9},
    "cost": {"usd": 1.0},
}
ANOMALY_KINDS = ("carbon", "cost")
_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_LABELS = frozenset({"budget", "budget_owner", "kind", "severity", "threshold", "alertname"})
_BUDGET_KEYS = frozenset(
    {"name", "owner", "receiver", "labels", "selector", "period", "limits", "thresholds", "anomaly", "for"}
)
_TOP_KEYS = frozenset({"budgets", "dashboard", "evaluation_interval"})


class BudgetError(ValueError):
    """A budgets file that cannot be used; the message names the budget and the key."""


@dataclass(frozen=True)
class Period:
    """A budget period: ``month``, ``quarter``, or ``custom`` windows of ``every_s`` seconds from ``start``."""

    kind: str  # month | quarter | custom
    start: datetime | None = None  # custom only, UTC
    every_s: int | None = None  # custom only

    @property
    def max_seconds(self) -> int:
        """The longest period, s (the range the spend-to-date rule must look back)."""
        return {"month": 31 * 86400, "quarter": 92 * 86400}.get(self.kind, self.every_s or 0)

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """(start, end) of the period holding ``now`` (UTC): start inclusive, end exclusive."""
        now = now.astimezone(timezone.utc)
        if self.kind == "month":
            start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
            return start, _add_months(start, 1)
        if self.kind == "quarter":
            start = datetime(now.year, 3 * ((now.month - 1) // 3) + 1, 1, tzinfo=timezone.utc)
            return start, _add_months(start, 3)
        assert self.start is not None and self.every_s is not None
        elapsed = (now - self.start).total_seconds()
        index = math.floor(elapsed / self.every_s)
        start = datetime.fromtimestamp(self.start.timestamp() + index * self.every_s, timezone.utc)
        return start, datetime.fromtimestamp(start.timestamp() + self.every_s, timezone.utc)


@dataclass(frozen=True)
class Anomaly:
    """Alert when carbon (g) or cost (USD) per request over ``window_s`` exceeds ``factor`` × its own baseline."""

    kinds: tuple[str, ...]
    factor: float
    window_s: int
    min_requests: int


@dataclass(frozen=True)
class Budget:
    """One budget.  ``limits`` are in base units (g CO2e, J, USD); thresholds are fractions of them."""

    name: str
    owner: str
    selector: dict[str, str]
    period: Period
    limits: dict[str, float]
    actual: tuple[float, ...]
    forecast: tuple[float, ...]
    receiver: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    anomaly: Anomaly | None = None
    for_s: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetFile:
    """The parsed file: budgets in file order, the dashboard link and the rule evaluation interval (s)."""

    budgets: tuple[Budget, ...]
    dashboard: str | None = None
    evaluation_interval_s: int = 60


DEFAULT_FOR_S: dict[str, int] = {"actual": 300, "forecast": 3600, "anomaly": 1800}


def load_budgets(path: str | Path) -> BudgetFile:
    """Read and validate a budgets file; raises :class:`BudgetError` (one line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BudgetError(f"cannot read {path}: {exc.strerror or exc}") from None
    return budgets_from_mapping(_parse(text, path))


def budgets_from_mapping(raw: Any) -> BudgetFile:
    """Validate the parsed file (the shape in the module docstring); raises :class:`BudgetError`."""
    if not isinstance(raw, Mapping):
        raise BudgetError("expected a mapping with a 'budgets' list")
    _no_unknown(raw, _TOP_KEYS, "file")
    entries = raw.get("budgets")
    if not isinstance(entries, list) or not entries:
        raise BudgetError("budgets: expected a non-empty list")
    budgets = tuple(_budget(entry, i) for i, entry in enumerate(entries))
    names = [b.name for b in budgets]
    for name in names:
        if names.count(name) > 1:
            raise BudgetError(f"budget {name!r}: name appears twice")
    dashboard = raw.get("dashboard")
    if dashboard is not None and (not isinstance(dashboard, str) or not dashboard.startswith(("http://", "https://"))):
        raise BudgetError(f"dashboard: expected an http(s) URL, got {dashboard!r}")
    interval = _duration(raw.get("evaluation_interval", "1m"), "evaluation_interval")
    return BudgetFile(budgets, dashboard, interval)


def _budget(entry: Any, index: int) -> Budget:
    where = f"budgets[{index}]"
    if not isinstance(entry, Mapping):
        raise BudgetError(f"{where}: expected a mapping, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise BudgetError(f"{where}.name: required, letters, digits, '_', '.', '-' only (got {name!r})")
    where = f"budget {name!r}"
    _no_unknown(entry, _BUDGET_KEYS, where)
    owner = entry.get("owner")
    if not isinstance(owner, str) or not owner.strip():
        raise BudgetError(f"{where}: owner is required (a non-empty string)")
    receiver = entry.get("receiver")
    if receiver is not None and (not isinstance(receiver, str) or not receiver.strip()):
        raise BudgetError(f"{where}: receiver must be a non-empty string")
    limits = _limits(entry.get("limits"), where)
    actual, forecast = _thresholds(entry.get("thresholds"), where)
    return Budget(
        name=name,
        owner=owner.strip(),
        selector=_selector(entry.get("selector"), where),
        period=_period(entry.get("period"), where),
        limits=limits,
        actual=actual,
        forecast=forecast,
        receiver=receiver.strip() if receiver else None,
        labels=_labels(entry.get("labels"), where),
        anomaly=_anomaly(entry.get("anomaly"), where),
        for_s=_for(entry.get("for"), where),
    )


def _no_unknown(entry: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(entry) - known)
    if unknown:
        raise BudgetError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _selector(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BudgetError(f"{where}.selector: expected a mapping of dimension to value")
    selector: dict[str, str] = {}
    for key, value in raw.items():
        if key not in DIMENSIONS:
            raise BudgetError(
                f"{where}.selector.{key}: unknown dimension (known: {', '.join(DIMENSIONS)})"
            )
        if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
            raise BudgetError(f"{where}.selector.{key}: expected a non-empty string, got {value!r}")
        selector[key] = str(value)
    return selector


def _period(raw: Any, where: str) -> Period:
    if raw in ("month", "quarter"):
        return Period(raw)
    if isinstance(raw, Mapping):
        _no_unknown(raw, frozenset({"start", "every"}), f"{where}.period")
        start = raw.get("start")
        if isinstance(start, date) and not isinstance(start, datetime):
            start = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
        elif isinstance(start, str):
            try:
                start = datetime.fromisoformat(start.replace("Z", "+00:00"))
            except ValueError:
                start = None
        if not isinstance(start, datetime):
            raise BudgetError(f"{where}.period.start: expected a date or an ISO 8601 time, got {raw.get('start')!r}")
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        every = _duration(raw.get("every"), f"{where}.period.every")
        return Period("custom", start.astimezone(timezone.utc), every)
    raise BudgetError(f"{where}.period: unknown period {raw!r} (month, quarter, or {{start: DATE, every: 14d}})")


def _duration(raw: Any, where: str) -> int:
    match = _DURATION.match(raw) if isinstance(raw, str) else None
    if match is None or int(match.group(1)) == 0:
        raise BudgetError(f"{where}: expected a duration such as 30s, 5m, 1h, 14d, 2w; got {raw!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _limits(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, Mapping) or not raw:
        raise BudgetError(f"{where}.limits: required, a mapping with carbon, energy and/or cost")
    limits = {}
    for kind, value in raw.items():
        if kind not in KINDS:
            raise BudgetError(f"{where}.limits.{kind}: unknown limit (known: {', '.join(KINDS)})")
        limits[kind] = _quantity(value, kind, f"{where}.limits.{kind}")
    return limits


def _quantity(raw: Any, kind: str, where: str) -> float:
    """A limit in the kind's base unit (g, J, USD); must be finite and > 0."""
    if isinstance(raw, bool):
        raise BudgetError(f"{where}: expected a number with a unit, got {raw!r}")
    if isinstance(raw, (int, float)):
        number, factor = float(raw), 1.0
    elif isinstance(raw, str):
        parts = raw.replace("CO2e", "").split()
        try:
            number = float(parts[0])
        except (ValueError, IndexError):
            raise BudgetError(f"{where}: expected a number with a unit, got {raw!r}") from None
        unit = parts[1].lower() if len(parts) == 2 else BASE_UNITS[kind].lower()
        if len(parts) > 2 or unit not in _UNITS[kind]:
            raise BudgetError(f"{where}: unknown unit in {raw!r} (one of {', '.join(_UNITS[kind])})")
        factor = _UNITS[kind][unit]
    else:
        raise BudgetError(f"{where}: expected a number with a unit, got {raw!r}")
    if not math.isfinite(number) or number <= 0:
        raise BudgetError(f"{where}: must be a finite number > 0, got {raw!r}")
    return number * factor


def _thresholds(raw: Any, where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if raw is None:
        return (0.8, 1.0), (1.0,)
    if not isinstance(raw, Mapping):
        raise BudgetError(f"{where}.thresholds: expected a mapping with actual and/or forecast lists")
    _no_unknown(raw, frozenset({"actual", "forecast"}), f"{where}.thresholds")
    result = []
    for key in ("actual", "forecast"):
        values = raw.get(key, [])
        if not isinstance(values, list):
            raise BudgetError(f"{where}.thresholds.{key}: expected a list such as [80%, 100%]")
        result.append(tuple(sorted({_fraction(v, f"{where}.thresholds.{key}") for v in values})))
    return result[0], result[1]


def _fraction(raw: Any, where: str) -> float:
    """``80%`` or ``0.8`` → 0.8; must be in (0, 10]."""
    try:
        value = float(raw[:-1]) / 100 if isinstance(raw, str) and raw.endswith("%") else float(raw)
    except (TypeError, ValueError):
        raise BudgetError(f"{where}: expected a percentage or a fraction, got {raw!r}") from None
    if isinstance(raw, bool) or not 0 < value <= 10:
        raise BudgetError(f"{where}: must be above 0% and at most 1000%, got {raw!r}")
    return round(value, 6)


def _labels(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BudgetError(f"{where}.labels: expected a mapping of label to value")
    labels = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _LABEL.match(key) or key in _RESERVED_LABELS or key.startswith("__"):
            raise BudgetError(f"{where}.labels.{key}: not a usable label name (reserved: {', '.join(sorted(_RESERVED_LABELS))})")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise BudgetError(f"{where}.labels.{key}: expected a string, got {value!r}")
        labels[key] = str(value)
    return labels


def _anomaly(raw: Any, where: str) -> Anomaly | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise BudgetError(f"{where}.anomaly: expected a mapping")
    _no_unknown(raw, frozenset({"metrics", "factor", "window", "min_requests"}), f"{where}.anomaly")
    kinds = raw.get("metrics", ["carbon"])
    if not isinstance(kinds, list) or not kinds or any(k not in ANOMALY_KINDS for k in kinds):
        raise BudgetError(f"{where}.anomaly.metrics: expected a list of {', '.join(ANOMALY_KINDS)}, got {kinds!r}")
    factor = raw.get("factor", 1.5)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 1 < factor < 100:
        raise BudgetError(f"{where}.anomaly.factor: expected a number above 1, got {factor!r}")
    minimum = raw.get("min_requests", 20)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        raise BudgetError(f"{where}.anomaly.min_requests: expected a whole number >= 1, got {minimum!r}")
    window = _duration(raw.get("window", "1h"), f"{where}.anomaly.window")
    return Anomaly(tuple(dict.fromkeys(kinds)), float(factor), window, minimum)


def _for(raw: Any, where: str) -> dict[str, int]:
    if raw is None:
        return dict(DEFAULT_FOR_S)
    if not isinstance(raw, Mapping):
        raise BudgetError(f"{where}.for: expected a mapping of actual/forecast/anomaly to a duration")
    _no_unknown(raw, frozenset(DEFAULT_FOR_S), f"{where}.for")
    result = dict(DEFAULT_FOR_S)
    for key, value in raw.items():
        result[key] = 0 if value in ("0", "0s", 0) else _duration(value, f"{where}.for.{key}")
    return result


def _add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def yaml_module() -> Any:
    """PyYAML, or :class:`~otel_carbon._extras.MissingExtraError` naming the ``budgets`` extra."""
    try:
        import yaml  # type: ignore[import-untyped]
    except ModuleNotFoundError as exc:
        raise missing_extra("budgets", exc, "YAML budgets, rules and routes") from exc
    return yaml


def _parse(text: str, path: str | Path) -> Any:
    return parse_yaml_or_json(text, path, extra="budgets", error=BudgetError)
