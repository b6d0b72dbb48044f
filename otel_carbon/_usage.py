"""One-line usage errors of the ``otel-carbon`` command's subcommands (wherever they live)."""

from __future__ import annotations

import sys


def usage_error(command: str, message: str) -> int:
    """Print ``otel-carbon COMMAND: error: MESSAGE`` (one line) on stderr; return exit code 2."""
    print(f"otel-carbon {command}: error: {message}", file=sys.stderr)
    return 2
