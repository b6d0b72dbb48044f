"""Temporal shifting: start deferrable work at the lowest-carbon time before a deadline.

A :class:`Plan` comes from the zone's forecast through the intensity cache's
``best_window`` (duration-weighted mean intensity over the job's length; ties
to the earliest start).  No forecast that covers a candidate window → start
now, ``fallback`` true.  :func:`wait_for_cleanest` plans and sleeps until the
start; :func:`deferrable` does the same around a function.  Intensities in
gCO2e/kWh, times UTC, delays in seconds.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ParamSpec, TypeVar

from otel_carbon.config import CarbonSettings
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.zones import Location, location_of

P = ParamSpec("P")
R = TypeVar("R")

#: Job length assumed when none is given (the window is scored over it), capped at ``within``.
DEFAULT_DURATION = timedelta(hours=1)


@dataclass(frozen=True)
class Plan:
    """When to start: ``start`` (UTC) after ``delay_s``; intensities expected over the job's length.

    ``now_g_per_kwh`` is the expected mean when starting now (``None`` if the
    forecast does not cover now); ``fallback`` says no forecast was usable.
    """

    zone: str
    start: datetime
    delay_s: float
    duration_s: float
    now_g_per_kwh: float | None
    expected_g_per_kwh: float
    source: str
    fallback: bool

    def as_dict(self) -> dict[str, Any]:
        """The ``otel-carbon run --dry-run --json`` contract."""
        return {
            "zone": self.zone,
            "start": self.start.isoformat(),
            "delay_s": self.delay_s,
            "duration_s": self.duration_s,
            "now_g_per_kwh": self.now_g_per_kwh,
            "expected_g_per_kwh": self.expected_g_per_kwh,
            "source": self.source,
            "fallback": self.fallback,
        }


def plan_start(
    cache: IntensityCache,
    zone: str,
    within: timedelta,
    duration: timedelta | None = None,
    *,
    now: datetime | None = None,
) -> Plan:
    """The best start for a job of ``duration`` that must end within ``within`` from now.

    Raises ``ValueError`` when ``duration`` is not positive or exceeds ``within``.
    """
    duration = duration if duration is not None else min(DEFAULT_DURATION, within)
    if duration <= timedelta(0) or within < duration:
        raise ValueError(f"the job ({duration}) must be positive and fit within the window ({within})")
    now = now or datetime.now(timezone.utc)
    window = cache.best_window(zone, duration, now + within, now=now)
    return Plan(
        zone=window.zone,
        start=window.start,
        delay_s=max((window.start - now).total_seconds(), 0.0),
        duration_s=duration.total_seconds(),
        now_g_per_kwh=window.immediate_g_per_kwh,
        expected_g_per_kwh=window.g_per_kwh,
        source=window.source,
        fallback=window.fallback,
    )


@contextmanager
def live_intensity(location: Location, settings: CarbonSettings | None = None) -> Iterator[IntensityCache]:
    """A cache built from ``OTEL_CARBON_*`` with ``location`` refreshed once now (current + forecast).

    No provider, or a failing one: the cache answers from disk or the static
    table and plans fall back to "start now".  Closed (and saved) on exit.
    """
    from otel_carbon.intensity.factory import refreshed_once  # httpx and the providers: only when used

    with refreshed_once(settings or CarbonSettings.from_env(), location) as cache:
        yield cache


def wait_for_cleanest(
    *,
    zone: str | None = None,
    region: str | None = None,
    within: timedelta,
    duration: timedelta | None = None,
    cache: IntensityCache | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Plan:
    """Plan, record the plan on the current span, sleep until its start, and return it.

    ``cache`` defaults to :func:`live_intensity` from the environment;
    ``clock`` (epoch s) is "now" for the plan.
    """
    from otel_carbon.routing.record import default_recorder

    location = location_of(zone, region)
    now = datetime.fromtimestamp(clock(), timezone.utc)
    if cache is None:
        with live_intensity(location) as live:
            plan = plan_start(live, location.zone, within, duration, now=now)
    else:
        plan = plan_start(cache, location.zone, within, duration, now=now)
    default_recorder().shift(plan)
    if plan.delay_s > 0:
        sleep(plan.delay_s)
    return plan


def deferrable(
    *,
    zone: str | None = None,
    region: str | None = None,
    within: timedelta,
    duration: timedelta | None = None,
    cache: IntensityCache | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: each call waits for the cleanest start (:func:`wait_for_cleanest`), then runs."""
    location_of(zone, region)  # bad arguments fail at decoration time

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def deferred(*args: P.args, **kwargs: P.kwargs) -> R:
            wait_for_cleanest(
                zone=zone, region=region, within=within, duration=duration, cache=cache, sleep=sleep, clock=clock
            )
            return function(*args, **kwargs)

        return deferred

    return decorate
