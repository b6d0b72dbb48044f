"""Where each budget stands: spent, share of limit, forecast at period end, state, open anomalies.

States, per limit and for the budget (the worst of its limits, in this order):
``over`` (spent >= limit), ``forecast_over`` (forecast >= the lowest forecast threshold × limit),
``warning`` (spent >= the lowest actual threshold below 100 % × limit), ``ok``; ``no_data`` when the
source has no series for the budget's selector (a typo in a selector, or no traffic since the last
restart: never shown as 0).  Forecast: :func:`otel_carbon.budgets.forecast.forecast_at_end`.
Anomaly: carbon (g) or cost (USD) per call over the last ``window`` above ``factor`` × the larger of
the previous 7 days' figure and the same window one week earlier, on at least ``min_requests`` calls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from otel_carbon.budgets.forecast import WEEK_S, forecast_at_end
from otel_carbon.budgets.sources import Source
from otel_carbon.budgets.spec import BASE_UNITS, Budget, BudgetFile

STATES = ("over", "forecast_over", "warning", "ok", "no_data")  # worst first
#: Exit code of ``otel-carbon budgets status`` when any budget is over its limit.
EXIT_OVER = 1


@dataclass(frozen=True)
class LimitStatus:
    """One limit of a budget; amounts in ``unit`` (g, J or USD); None where there is no data."""

    kind: str
    unit: str
    limit: float
    spent: float | None
    share: float | None
    forecast: float | None
    state: str


@dataclass(frozen=True)
class Anomaly:
    """An open anomaly: per-call figure in the window against its baseline (g or USD per call)."""

    metric: str
    per_request: float
    baseline: float
    factor: float
    calls: float


@dataclass(frozen=True)
class BudgetStatus:
    """A budget at ``now``: its period, limits, state and open anomalies."""

    name: str
    owner: str
    period_start: str
    period_end: str
    state: str
    limits: list[LimitStatus]
    anomalies: list[Anomaly] = field(default_factory=list)
    lower_bound: bool = False  # the source dropped calls in the period: spent is at least this

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def budget_status(budget: Budget, source: Source, now: datetime | None = None) -> BudgetStatus:
    """Compute one budget's status from ``source`` at ``now`` (default: the current time)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    start, end = budget.period.bounds(now)
    week_ago, two_weeks_ago = now - timedelta(seconds=WEEK_S), now - timedelta(seconds=2 * WEEK_S)
    spent, week, previous = (source.totals(budget, a, b) for a, b in
                             ((start, now), (week_ago, now), (two_weeks_ago, week_ago)))
    limits = []
    for kind, limit in budget.limits.items():
        amount, last7 = spent.get(kind), week.get(kind)
        forecast = None
        if amount is not None:
            forecast = forecast_at_end(amount, last7 or 0.0, previous.get(kind), (end - now).total_seconds())
        limits.append(LimitStatus(kind, BASE_UNITS[kind], limit, amount,
                                  None if amount is None else amount / limit, forecast,
                                  _state(budget, limit, amount, forecast)))
    state = min((s.state for s in limits), key=STATES.index)
    return BudgetStatus(budget.name, budget.owner, start.isoformat(), end.isoformat(), state, limits,
                        _anomalies(budget, source, now), source.lower_bound(start, now))


def file_status(budgets: BudgetFile, source: Source, now: datetime | None = None) -> list[BudgetStatus]:
    """Every budget's status, in file order, at one ``now``."""
    now = now or datetime.now(timezone.utc)
    return [budget_status(budget, source, now) for budget in budgets.budgets]


def exit_code(statuses: list[BudgetStatus]) -> int:
    """0, or :data:`EXIT_OVER` when any budget is over its limit."""
    return EXIT_OVER if any(s.state == "over" for s in statuses) else 0


def _state(budget: Budget, limit: float, spent: float | None, forecast: float | None) -> str:
    if spent is None:
        return "no_data"
    if spent >= limit:
        return "over"
    if budget.forecast and forecast is not None and forecast >= min(budget.forecast) * limit:
        return "forecast_over"
    warnings = [share for share in budget.actual if share < 1]
    if warnings and spent >= min(warnings) * limit:
        return "warning"
    return "ok"


def _anomalies(budget: Budget, source: Source, now: datetime) -> list[Anomaly]:
    rule = budget.anomaly
    if rule is None:
        return []
    window = timedelta(seconds=rule.window_s)
    week = timedelta(seconds=WEEK_S)
    current = source.totals(budget, now - window, now)
    history = source.totals(budget, now - window - week, now - window)
    last_week = source.totals(budget, now - window - week, now - week)
    calls = current.calls
    if calls is None or calls < rule.min_requests:
        return []
    found = []
    for kind in rule.kinds:
        figure = _per_call(current.get(kind), calls)
        baselines = [b for b in (_per_call(history.get(kind), history.calls),
                                 _per_call(last_week.get(kind), last_week.calls)) if b is not None]
        if figure is not None and baselines and figure > rule.factor * max(baselines):
            found.append(Anomaly(kind, figure, max(baselines), rule.factor, calls))
    return found


def _per_call(total: float | None, calls: float | None) -> float | None:
    return None if total is None or not calls else total / calls
