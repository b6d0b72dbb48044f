"""``otel-carbon intensity``: the grid intensity a span would get now, and its forecast.

    otel-carbon intensity (--zone Z | --region PROVIDER:REGION) [--forecast]
        [--duration MINUTES] [--within HOURS] [--json]

Providers, keys and the cache file come from ``OTEL_CARBON_*`` (see
``docs/intensity.md``).  One synchronous refresh per configured provider that
serves the zone, bounded by ``OTEL_CARBON_INTENSITY_TIMEOUT_S`` per request;
with no provider configured, or no network, the answer is the cached or
static value with ``fallback: true``.  ``--json`` prints one object:
``intensity_g_per_kwh``, ``zone``, ``source``, ``fallback``, ``observed_at``,
and with ``--forecast`` the ``forecast`` points and the ``best_window`` for a
job of ``--duration`` minutes starting within ``--within`` hours.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from otel_carbon._usage import usage_error
from otel_carbon.cli._numbers import positive
from otel_carbon.cli._where import location_arg
from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.intensity.factory import refreshed_once
from otel_carbon.intensity.zones import Location


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("intensity", help="current grid carbon intensity of a zone or cloud region")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--zone", help="grid zone, e.g. FR, GB, US-CAL-CISO, GB-NESO-13")
    where.add_argument("--region", help="cloud region as PROVIDER:REGION, e.g. aws:eu-west-1")
    parser.add_argument("--forecast", action="store_true", help="include the forecast and the best start window")
    parser.add_argument("--duration", type=positive, default=60.0, help="job length for --forecast, minutes (60)")
    parser.add_argument(
        "--within", type=positive, default=24.0, help="latest end of the job for --forecast, hours (24)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def _fail(message: str) -> int:
    return usage_error("intensity", message)


def run(args: argparse.Namespace) -> int:
    try:
        settings = CarbonSettings.from_env()
        location = location_arg(args)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    try:
        with refreshed_once(settings, location) as cache:
            report = _report(cache, location, args)
    except ConfigError as exc:
        return _fail(str(exc))
    print(json.dumps(report, sort_keys=True) if args.json else _text(report))
    return 0


def _report(cache: Any, location: Location, args: argparse.Namespace) -> dict[str, Any]:
    reading = cache.lookup(location.zone)
    report: dict[str, Any] = {
        "requested_zone": location.zone,
        "region": f"{location.cloud[0]}:{location.cloud[1]}" if location.cloud else None,
        "zone": reading.zone,
        "intensity_g_per_kwh": reading.g_per_kwh,
        "source": reading.source,
        "fallback": reading.fallback,
        "observed_at": reading.observed_at.isoformat() if reading.observed_at else None,
    }
    index = cache.index(location.zone)
    if index is not None:
        report["index"] = {"value": index.value, "unit": index.unit, "source": index.source}
    if args.forecast:
        forecast = cache.forecast(location.zone)
        report["forecast"] = [
            {"start": p.start.isoformat(), "end": p.end.isoformat(), "g_per_kwh": p.g_per_kwh}
            for p in (forecast.points if forecast else ())
        ]
        now = datetime.now(timezone.utc)
        window = cache.best_window(
            location.zone, timedelta(minutes=args.duration), now + timedelta(hours=args.within), now=now
        )
        report["best_window"] = {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "g_per_kwh": window.g_per_kwh,
            "immediate_g_per_kwh": window.immediate_g_per_kwh,
            "source": window.source,
            "fallback": window.fallback,
        }
    return report


def _text(report: dict[str, Any]) -> str:
    flags = report["source"] + (", fallback" if report["fallback"] else "")
    where = f" ({report['region']})" if report["region"] else ""
    lines = [f"{report['zone']}{where}: {report['intensity_g_per_kwh']:.0f} gCO2e/kWh  [{flags}]"]
    if report["observed_at"]:
        lines.append(f"observed at {report['observed_at']}")
    if "index" in report:
        lines.append(
            f"relative index: {report['index']['value']:.0f} {report['index']['unit']} ({report['index']['source']})"
        )
    if "forecast" in report:
        lines.append(f"forecast: {len(report['forecast'])} points")
        best = report["best_window"]
        note = " (no forecast: run now)" if best["fallback"] else ""
        lines.append(f"best start {best['start']} at {best['g_per_kwh']:.0f} gCO2e/kWh{note}")
    return "\n".join(lines)
