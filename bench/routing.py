"""Carbon-aware routing and time shifting over a day of hourly intensities.

Part 1 — spatial: a day of requests (seeded trace: ``--per-hour`` requests an
hour, input 200–4000 and output 50–800 tokens, three latency classes: 40 %
interactive ≤ 600 ms, 35 % standard ≤ 1000 ms, 25 % background ≤ 5000 ms) routed
between the same model (gpt-4o-mini) in five Azure regions, as seen from a
European client (and again without Sweden, whose shipped annual average of
2.7 gCO2e/kWh dominates the first run).  Baseline in the same run: the cost-only choice for the same
request under the same constraints (cheapest, then fastest).  Reported: carbon
of each, saved, cost change, latency-limit violations (must be 0) and the cost
of one decision.

Part 2 — temporal: deferrable jobs submitted at every other hour, 1–3 h long,
in four zones, planned with ``plan_start(within=8h)`` on a forecast equal to
the profile (a perfect forecast: the upper bound of what shifting gains),
against running at submission.  Energy: 1 kWh per job-hour (one 8-GPU node at
partial load), stated so the grams can be checked.

**Intensity data: documented profiles, not measurements.**  Each zone's hourly
intensity is ``mean × (1 + a × cos(2π (h − peak) / 24))``: ``mean`` is the
shipped annual average (``otel_carbon/data``: Our World in Data / Ember, CC BY
4.0; Google region-carbon-info, Apache-2.0 — see SOURCES.md); amplitude ``a``
and peak hour are stated assumptions in :data:`PROFILES` (evening demand
peaks, midday solar troughs), not fitted to data.

    python bench/routing.py [--per-hour 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from otel_carbon.config import CarbonSettings
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.reading import Forecast, ForecastPoint, IntensityReading
from otel_carbon.intensity.static import StaticIntensity
from otel_carbon.routing import CarbonRouter, Constraints, deployments_from_list, plan_start

DAY = datetime(2026, 6, 15, tzinfo=timezone.utc)
#: zone → (amplitude relative to the annual mean, hour of the daily peak, UTC); assumptions, see docstring.
PROFILES = {
    "GB": (0.25, 18),  # evening demand peak, gas at the margin
    "DE": (0.20, 19),  # midday solar trough, evening peak
    "FR": (0.15, 19),  # nuclear base, small evening peak
    "SE-SE3": (0.10, 8),  # hydro/nuclear, flat
    "US-MIDA-PJM": (0.10, 18),
}
FLEET = [  # p95 from a European client; list prices USD per 1M tokens (eastus cheapest)
    {"name": "eastus", "region": "azure:eastus", "p95_ms": 900, "input_price_per_mtok": 0.150,
     "output_price_per_mtok": 0.600},
    {"name": "germanywestcentral", "region": "azure:germanywestcentral", "p95_ms": 500,
     "input_price_per_mtok": 0.165, "output_price_per_mtok": 0.660},
    {"name": "francecentral", "region": "azure:francecentral", "p95_ms": 550, "input_price_per_mtok": 0.165,
     "output_price_per_mtok": 0.660},
    {"name": "uksouth", "region": "azure:uksouth", "p95_ms": 580, "input_price_per_mtok": 0.165,
     "output_price_per_mtok": 0.660},
    {"name": "swedencentral", "region": "azure:swedencentral", "p95_ms": 700, "input_price_per_mtok": 0.165,
     "output_price_per_mtok": 0.660},
]
CLASSES = ((0.40, 600.0), (0.35, 1000.0), (0.25, 5000.0))  # (share, latency limit ms)
JOB_KWH_PER_HOUR = 1.0
SETTINGS = CarbonSettings(intensity_providers=("none",), intensity_cache_file="off")


def intensity(zone: str, at: datetime, static: StaticIntensity) -> float:
    """The documented profile's value for ``zone`` at ``at`` (gCO2e/kWh)."""
    amplitude, peak = PROFILES[zone]
    hour = at.hour + at.minute / 60.0
    return static.lookup(zone).g_per_kwh * (1.0 + amplitude * math.cos(2 * math.pi * (hour - peak) / 24.0))


def spatial(per_hour: int, rng: random.Random, static: StaticIntensity, fleet: list[dict[str, Any]]) -> dict[str, Any]:
    deployments = deployments_from_list([{**d, "provider": "azure.ai.openai", "model": "gpt-4o-mini"} for d in fleet])
    carbon = {"aware": 0.0, "cost_only": 0.0}
    cost = {"aware": 0.0, "cost_only": 0.0}
    violations = {"aware": 0, "cost_only": 0}
    chosen: dict[str, int] = {}
    decisions, elapsed = 0, 0.0
    for hour in range(24):
        at = DAY + timedelta(hours=hour)
        clock = at.timestamp
        cache = IntensityCache(static, clock=clock)
        for zone in PROFILES:
            cache.update(IntensityReading(zone, intensity(zone, at, static), "bench", observed_at=at))
        router = CarbonRouter(deployments, intensity=cache, settings=SETTINGS, clock=clock)
        for _ in range(per_hour):
            limit = _latency_class(rng)
            tokens = (rng.randint(200, 4000), rng.randint(50, 800))
            started = time.perf_counter()
            decision = router.choose(*tokens, Constraints.of(max_latency_ms=limit))
            elapsed += time.perf_counter() - started
            decisions += 1
            for key, candidate in (("aware", decision.chosen), ("cost_only", decision.cost_choice)):
                carbon[key] += candidate.carbon_g
                cost[key] += candidate.cost_usd or 0.0
                violations[key] += int(candidate.latency_ms is None or candidate.latency_ms > limit)
            chosen[decision.chosen.name] = chosen.get(decision.chosen.name, 0) + 1
    return {
        "requests": decisions,
        "carbon_g": carbon,
        "saved_g": carbon["cost_only"] - carbon["aware"],
        "carbon_ratio": carbon["aware"] / carbon["cost_only"],
        "cost_usd": cost,
        "cost_change": cost["aware"] / cost["cost_only"] - 1.0,
        "latency_violations": violations,
        "chosen": chosen,
        "us_per_decision": elapsed / decisions * 1e6,
    }


def _latency_class(rng: random.Random) -> float:
    draw = rng.random()
    for share, limit in CLASSES:
        if draw < share:
            return limit
        draw -= share
    return CLASSES[-1][1]


def temporal(static: StaticIntensity) -> dict[str, Any]:
    zones = ["GB", "DE", "FR", "US-MIDA-PJM"]
    jobs: list[dict[str, Any]] = []
    for index, submit_hour in enumerate(range(0, 24, 2)):
        zone, hours = zones[index % len(zones)], 1 + index % 3
        submitted = DAY + timedelta(hours=submit_hour)
        points = tuple(
            ForecastPoint(submitted + timedelta(hours=h), submitted + timedelta(hours=h + 1),
                          intensity(zone, submitted + timedelta(hours=h, minutes=30), static))
            for h in range(24)
        )
        cache = IntensityCache(static, clock=submitted.timestamp)
        cache.update_forecast(Forecast(zone, "bench", points))
        plan = plan_start(cache, zone, timedelta(hours=8), timedelta(hours=hours), now=submitted)
        assert plan.now_g_per_kwh is not None and not plan.fallback
        kwh = JOB_KWH_PER_HOUR * hours
        jobs.append({
            "zone": zone, "submitted": submitted.strftime("%H:%M"), "hours": hours,
            "delay_h": plan.delay_s / 3600.0, "now_g_per_kwh": plan.now_g_per_kwh,
            "planned_g_per_kwh": plan.expected_g_per_kwh,
            "saved_g": kwh * (plan.now_g_per_kwh - plan.expected_g_per_kwh),
            "at_submission_g": kwh * plan.now_g_per_kwh,
        })
    at_submission = sum(j["at_submission_g"] for j in jobs)
    saved = sum(j["saved_g"] for j in jobs)
    return {"jobs": jobs, "at_submission_g": at_submission, "saved_g": saved, "saved_share": saved / at_submission}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-hour", type=int, default=200)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    static = StaticIntensity.shipped()
    without_sweden = [d for d in FLEET if d["name"] != "swedencentral"]
    result = {
        "spatial": spatial(args.per_hour, random.Random(args.seed), static, FLEET),
        "spatial_without_sweden": spatial(args.per_hour, random.Random(args.seed), static, without_sweden),
        "temporal": temporal(static),
    }
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    for name in ("spatial", "spatial_without_sweden"):
        _print_spatial(name, result[name])
    t = result["temporal"]
    print(f"temporal: {len(t['jobs'])} jobs, run --within 8h vs at submission: saved {t['saved_g']:.0f} g"
          f" of {t['at_submission_g']:.0f} g ({100 * t['saved_share']:.1f} %)")
    for job in t["jobs"]:
        print(f"  {job['zone']:<12} {job['submitted']} {job['hours']} h  wait {job['delay_h']:.1f} h  "
              f"{job['now_g_per_kwh']:.0f} → {job['planned_g_per_kwh']:.0f} gCO2e/kWh")


def _print_spatial(name: str, s: dict[str, Any]) -> None:
    print(f"{name}: {s['requests']} requests over 24 h, {s['us_per_decision']:.0f} µs per decision")
    print(f"  carbon  cost-only {s['carbon_g']['cost_only']:.2f} g  carbon-aware {s['carbon_g']['aware']:.2f} g"
          f"  ratio {s['carbon_ratio']:.3f}  saved {s['saved_g']:.2f} g")
    print(f"  cost    cost-only ${s['cost_usd']['cost_only']:.4f}  carbon-aware ${s['cost_usd']['aware']:.4f}"
          f"  change {100 * s['cost_change']:+.1f} %")
    print(f"  latency-limit violations  cost-only {s['latency_violations']['cost_only']}"
          f"  carbon-aware {s['latency_violations']['aware']}")
    print(f"  chosen  {s['chosen']}")


if __name__ == "__main__":
    main()
