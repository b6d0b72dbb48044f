"""``otel-carbon report``: a period of the ledger as a disclosure report.

    otel-carbon report --ledger URL (--period 2026-Q4 | --from 2026-10-01 --to 2026-12-31)
        [--by team,feature,model,provider,zone,service] [--format table|csv|json|html|if-manifest]
        [--output FILE] [--market-factor ZONE=gCO2e/kWh …]

The ledger is checked before anything is read (a damaged SQLite file is an error, never a total).
Errors (bad arguments, a missing, locked, damaged or newer ledger) exit 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from otel_carbon._extras import MissingExtraError
from otel_carbon._usage import usage_error

FORMATS = ("table", "csv", "json", "html", "if-manifest")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="report a period of the carbon ledger (Scope 2/3, CSV, HTML, IF)")
    parser.add_argument("--ledger", default=None, metavar="URL",
                        help="sqlite:///PATH or postgresql://… (default: $OTEL_CARBON_LEDGER)")
    parser.add_argument("--period", help="YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD (UTC)")
    parser.add_argument("--from", dest="start", metavar="DATE", help="first day (YYYY-MM-DD), with --to")
    parser.add_argument("--to", dest="end", metavar="DATE", help="last day, included")
    parser.add_argument("--by", default="", help="group keys separated by commas: team, feature, tier, model, "
                                                 "provider, zone, service, scope, method, or a dimension key")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--output", "-o", help="write to this file (default: standard output)")
    parser.add_argument("--market-factor", action="append", default=[], metavar="ZONE=G_PER_KWH",
                        help="contractual emission factor for Scope 2 market-based (repeatable)")
    parser.set_defaults(handler=run)


def _factors(raw: list[str]) -> dict[str, float]:
    factors = {}
    for item in raw:
        zone, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not zone.strip() or not math.isfinite(number) or number < 0:
            raise ValueError(f"--market-factor {item!r}: expected ZONE=gCO2e/kWh, e.g. FR=12.5")
        factors[zone.strip()] = number
    return factors


def run(args: argparse.Namespace) -> int:
    from otel_carbon.ledger import LedgerError, open_ledger
    from otel_carbon.ledger.url import configured_url
    from otel_carbon.report.period import PeriodError, parse_period, period_between

    url = args.ledger or configured_url()
    if not url:
        return usage_error("report", "--ledger URL is required (or set OTEL_CARBON_LEDGER)")
    try:
        if args.period and (args.start or args.end):
            raise PeriodError("give --period or --from/--to, not both")
        if args.period:
            period = parse_period(args.period)
        elif args.start and args.end:
            period = period_between(args.start, args.end)
        else:
            raise PeriodError("--period or both --from and --to are required")
        by = tuple(k.strip() for k in args.by.split(",") if k.strip())
        factors = _factors(args.market_factor)
    except ValueError as exc:
        return usage_error("report", str(exc))
    try:
        with open_ledger(url, create=False) as ledger:
            ledger.check()
            text = _render(ledger, period, by, factors, args.format)
    except (LedgerError, MissingExtraError) as exc:
        return usage_error("report", str(exc))
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            return usage_error("report", f"--output {args.output}: {exc.strerror}")
    else:
        sys.stdout.write(text)
    return 0


def _render(ledger: Any, period: Any, by: tuple[str, ...], factors: dict[str, float], fmt: str) -> str:
    if fmt == "if-manifest":
        from otel_carbon.report.ifmanifest import to_if_manifest

        return to_if_manifest(ledger, period, by)
    from otel_carbon.report.build import build_report

    report = build_report(ledger, period, by, factors)
    if fmt == "html":
        from otel_carbon.report.html import to_html  # needs matplotlib (the report extra)

        return to_html(report)
    from otel_carbon.report import formats

    return {"table": formats.to_table, "csv": formats.to_csv, "json": formats.to_json}[fmt](report)
