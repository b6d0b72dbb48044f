"""``otel-carbon diff``: compare two carbon run files per functional unit, for any CI pipeline.

    otel-carbon diff BASELINE CANDIDATE [--max-increase PCT] [--alpha A] [--json]

BASELINE and CANDIDATE are run files written by ``pytest --carbon-json`` (or
folders of them: repeated runs, the samples of the statistical test for measured
energy).  Exit 0 when every unit is within the threshold, 1 on a regression
(named, with its causes), 2 on bad input (one line on stderr, nothing printed on stdout).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from otel_carbon._usage import usage_error
from otel_carbon.cli._numbers import non_negative, number
from otel_carbon.gates.diff import DiffReport, compare
from otel_carbon.gates.records import GateInputError, load_runs


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("diff", help="compare carbon per test and per call between two runs (CI gate)")
    parser.add_argument("baseline", help="baseline run file (pytest --carbon-json) or folder of run files")
    parser.add_argument("candidate", help="candidate run file or folder of run files")
    parser.add_argument("--max-increase", type=non_negative, default=5.0, metavar="PCT",
                        help="allowed increase per functional unit, percent (default 5)")
    parser.add_argument("--alpha", type=number("in (0, 1)", lambda value: 0 < value < 1), default=0.05,
                        help="significance level of the test on measured energy (default 0.05)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the stable contract)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        baseline = load_runs(args.baseline)
        candidate = load_runs(args.candidate)
    except GateInputError as exc:
        return usage_error("diff", str(exc))
    report = compare(baseline, candidate, max_increase_pct=args.max_increase, alpha=args.alpha)
    print(json.dumps(report.to_json(), sort_keys=True) if args.json else render(report))
    return 1 if report.regressions else 0


def render(report: DiffReport) -> str:
    """The human form: one line per unit that is not ``ok``, then the verdict."""
    lines = [f"{unit.status:<12} {unit.headline()}" for unit in report.units if unit.status != "ok"]
    compared = sum(1 for unit in report.units if unit.status not in ("added", "removed"))
    regressions = len(report.regressions)
    verdict = (f"carbon regression: {regressions} of {compared} units above +{report.max_increase_pct:g}%"
               if regressions else f"ok: {compared} units within +{report.max_increase_pct:g}%")
    return "\n".join([*lines, verdict])
