"""``otel-carbon run``: start a deferrable command at the lowest-carbon time inside a window.

    otel-carbon run (--zone Z | --region PROVIDER:REGION) --within DURATION
        [--duration D] [--dry-run] [--json] -- COMMAND [ARG…]

DURATION: a number with a unit, e.g. ``90s``, ``30m``, ``8h``, ``1h30m``, ``2d``.
With ``--dry-run`` the plan is printed on stdout (``--json``: ``start``,
``delay_s``, ``now_g_per_kwh``, ``expected_g_per_kwh``, ``zone``,
``fallback``…) and nothing runs.  Otherwise it waits, runs the command, and
prints the report on stderr (the command's stdout stays its own); the exit
code is the command's (128 + N when signal N ended it) and signals are
passed on.  No forecast → start now, ``fallback: true``.  See ``docs/shifting.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from otel_carbon import sci
from otel_carbon._usage import usage_error
from otel_carbon.cli._numbers import duration
from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.intensity.factory import refresh_now
from otel_carbon.intensity.zones import Location, location_of
from otel_carbon.routing.record import default_recorder
from otel_carbon.routing.runner import run_command
from otel_carbon.routing.shift import Plan, live_intensity, plan_start


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="run a deferrable command at the lowest-carbon start inside a window (time shifting)"
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--zone", help="grid zone, e.g. GB, DE, US-CAL-CISO")
    where.add_argument("--region", help="cloud region as PROVIDER:REGION, e.g. aws:eu-west-1")
    parser.add_argument("--within", type=duration, required=True, help="the job must end within this, e.g. 8h")
    parser.add_argument("--duration", type=duration, help="expected job length (default 1h, at most --within)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG…]")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command and not args.dry_run:
        return usage_error("run", "no command given (put it after --)")
    try:
        settings = CarbonSettings.from_env()
        location = location_of(args.zone, args.region)
        with live_intensity(location, settings) as cache:
            submitted = cache.lookup(location.zone).g_per_kwh
            plan = plan_start(cache, location.zone, args.within, args.duration)
    except (ConfigError, ValueError) as exc:
        return usage_error("run", str(exc))
    if args.dry_run:
        print(json.dumps(plan.as_dict(), sort_keys=True) if args.json else _plan_text(plan))
        return 0
    try:
        if plan.delay_s > 0:
            time.sleep(plan.delay_s)
        return _execute(command, plan, location, settings, submitted, args.json)
    except KeyboardInterrupt:
        return 130


def _execute(
    command: list[str], plan: Plan, location: Location, settings: CarbonSettings, submitted: float, as_json: bool
) -> int:
    with live_intensity(location, settings) as cache:
        at_start = cache.lookup(location.zone)
        try:
            completed = run_command(command, settings)
        except OSError as exc:
            return usage_error("run", f"cannot start {command[0]!r}: {exc.strerror or exc}")
        at_end = refresh_now(cache, location)
    achieved = (at_start.g_per_kwh + at_end.g_per_kwh) / 2.0
    baseline = plan.now_g_per_kwh if plan.now_g_per_kwh is not None else submitted
    energy = completed.energy_j
    report: dict[str, Any] = {
        **plan.as_dict(),
        "achieved_g_per_kwh": achieved,
        "achieved_fallback": at_start.fallback or at_end.fallback,
        "energy_j": energy,
        "energy_source": completed.energy_source,
        "saved_g": None if energy is None else sci.operational_g(energy, baseline - achieved),
        "expected_saved_g": None if energy is None else sci.operational_g(energy, baseline - plan.expected_g_per_kwh),
        "exit_code": completed.exit_code,
        "run_s": completed.duration_s,
    }
    default_recorder().shift(plan, report["expected_saved_g"])
    print(json.dumps(report, sort_keys=True) if as_json else _run_text(report), file=sys.stderr)
    return completed.exit_code


def _plan_text(plan: Plan) -> str:
    note = " (no usable forecast: start now)" if plan.fallback else ""
    now = "n/a" if plan.now_g_per_kwh is None else f"{plan.now_g_per_kwh:.0f}"
    return (
        f"{plan.zone}: start {plan.start.isoformat()} (in {plan.delay_s:.0f} s){note}\n"
        f"expected {plan.expected_g_per_kwh:.0f} gCO2e/kWh vs {now} starting now [{plan.source}]"
    )


def _run_text(report: dict[str, Any]) -> str:
    energy = "not measurable here" if report["energy_j"] is None else f"{report['energy_j']:.1f} J"
    saved = "n/a (no energy measured)" if report["saved_g"] is None else f"{report['saved_g']:.4f} g CO2e"
    return (
        f"otel-carbon run: exit {report['exit_code']} after {report['run_s']:.1f} s in {report['zone']}\n"
        f"intensity expected {report['expected_g_per_kwh']:.0f}, achieved {report['achieved_g_per_kwh']:.0f} gCO2e/kWh"
        f"{' (fallback)' if report['fallback'] else ''}\n"
        f"energy {energy}; saved against starting now: {saved}"
    )
