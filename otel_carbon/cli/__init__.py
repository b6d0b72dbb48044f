"""The ``otel-carbon`` command (wiring: may import every subpackage). Each subcommand is a module ``otel_carbon.cli.<name>``.

A command module provides ``register(subparsers) -> None`` (adds its parser and
sets ``handler``) and its handler returns the exit code.  Bad arguments exit
with code 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from otel_carbon import __version__

#: Subcommand modules under ``otel_carbon.cli``, in help order.
COMMANDS: tuple[str, ...] = ("demo", "estimate", "intensity", "collector")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line: ``otel-carbon: error: …``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="otel-carbon", description="Energy and carbon of LLM calls, in OpenTelemetry.")
    parser.add_argument("--version", action="version", version=f"otel-carbon {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMANDS:
        import_module(f"otel_carbon.cli.{name}").register(subparsers)
    return parser


def usage_error(command: str, message: str) -> int:
    """Print ``otel-carbon COMMAND: error: MESSAGE`` (one line) on stderr; return exit code 2."""
    print(f"otel-carbon {command}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
