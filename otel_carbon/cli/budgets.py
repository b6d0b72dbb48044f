"""``otel-carbon budgets``: Prometheus rules, Alertmanager routes and the status of a budgets file.

    otel-carbon budgets rules BUDGETS [--output F]
    otel-carbon budgets alertmanager BUDGETS [--output F]
    otel-carbon budgets status BUDGETS [--prometheus URL | --ledger URL] [--json]

``status`` reads the ledger of ``OTEL_CARBON_LEDGER`` when neither source is given.

``status`` exits 0, or 1 when any budget is over its limit (``docs/budgets.md``).  A bad budgets
file, an unreachable source or an unwritable output exits 2 with one line on stderr; ``--output``
is written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from otel_carbon._extras import MissingExtraError
from otel_carbon._files import write_atomically
from otel_carbon._usage import usage_error
from otel_carbon.budgets import alertmanager, rules
from otel_carbon.budgets.sources import SourceError, open_source
from otel_carbon.budgets.spec import BudgetError, load_budgets
from otel_carbon.budgets.status import BudgetStatus, exit_code, file_status

COMMAND = "budgets"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(COMMAND, help="carbon, energy and cost budgets: rules, routes, status")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    for name, text in (("rules", "Prometheus recording and alerting rules"),
                       ("alertmanager", "Alertmanager routes to each budget's receiver")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("budgets", metavar="BUDGETS", help="the budgets file (YAML)")
        sub.add_argument("--output", "-o", help="write here instead of stdout (whole or not at all)")
        sub.set_defaults(handler=_generate)
    status = actions.add_parser("status", help="spent, forecast, state and anomalies per budget")
    status.add_argument("budgets", metavar="BUDGETS", help="the budgets file (YAML)")
    status.add_argument("--prometheus", metavar="URL", help="the Prometheus HTTP API, e.g. http://prometheus:9090")
    status.add_argument("--ledger", metavar="URL", help="the ledger: sqlite:///PATH or postgresql://… (default: $OTEL_CARBON_LEDGER)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=_status)


def _generate(args: argparse.Namespace) -> int:
    try:
        budgets = load_budgets(args.budgets)
        text = (rules if args.action == "rules" else alertmanager).render(budgets)
        if args.output:
            write_atomically(Path(args.output), text.encode("utf-8"))
        else:
            print(text, end="")
    except (BudgetError, MissingExtraError) as exc:
        return usage_error(f"{COMMAND} {args.action}", str(exc))
    except OSError as exc:
        return usage_error(f"{COMMAND} {args.action}", f"cannot write {args.output}: {exc.strerror or exc}")
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        budgets = load_budgets(args.budgets)
        source = open_source(prometheus=args.prometheus, ledger=args.ledger)
    except (BudgetError, SourceError, MissingExtraError) as exc:
        return usage_error(f"{COMMAND} status", str(exc))
    try:
        statuses = file_status(budgets, source)
    except SourceError as exc:
        return usage_error(f"{COMMAND} status", str(exc))
    finally:
        source.close()
    if args.json:
        print(json.dumps({"source": source.name, "budgets": [s.as_dict() for s in statuses]}, indent=2))
    else:
        print(_table(statuses))
    return exit_code(statuses)


def _table(statuses: list[BudgetStatus]) -> str:
    rows = [("budget", "owner", "kind", "spent", "limit", "share", "forecast", "state", "anomalies")]
    for status in statuses:
        anomalies = ", ".join(f"{a.metric} {a.per_request / a.baseline:.1f}x" for a in status.anomalies) or "-"
        for limit in status.limits:
            rows.append((
                status.name, status.owner, limit.kind,
                "no data" if limit.spent is None else rules.human(limit.spent, limit.kind)
                + ("+" if status.lower_bound else ""),
                rules.human(limit.limit, limit.kind),
                "-" if limit.share is None else f"{limit.share:.0%}",
                "-" if limit.forecast is None else rules.human(limit.forecast, limit.kind),
                limit.state, anomalies,
            ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


