"""The ``otel-carbon`` command (wiring: may import every subpackage).

Each subcommand is a module named in :data:`COMMANDS`: ``otel_carbon.cli.<name>``
for those built on the core, the collector's own ``otel_carbon.collector.command``
for the gateway (so that only this file reaches into the subpackages).  A command module provides ``register(subparsers) -> None`` (adds its parser and
sets ``handler``) and its handler returns the exit code.  Bad arguments exit
with code 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import import_module

from otel_carbon import __version__

#: Subcommand name → its module, in help order.
COMMANDS: dict[str, str] = {
    "demo": "otel_carbon.cli.demo",
    "estimate": "otel_carbon.cli.estimate",
    "intensity": "otel_carbon.cli.intensity",
    "route": "otel_carbon.cli.route",
    "budgets": "otel_carbon.cli.budgets",
    "run": "otel_carbon.cli.run",
    "report": "otel_carbon.cli.report",
    "collector": "otel_carbon.collector.command",
    "diff": "otel_carbon.cli.diff",
    "retrain-gate": "otel_carbon.cli.retrain_gate",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line: ``otel-carbon: error: …``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="otel-carbon", description="Energy and carbon of LLM calls, in OpenTelemetry.")
    parser.add_argument("--version", action="version", version=f"otel-carbon {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for module in COMMANDS.values():
        import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
