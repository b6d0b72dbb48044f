"""Argument types for the numbers the subcommands take: a clear one-line error for anything else."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(raw: str) -> int:
    """A count (tokens, a quality tier): a whole number >= 0."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def number(rule: str, accept: Callable[[float], bool]) -> Callable[[str], float]:
    """A finite number for which ``accept`` holds; ``rule`` says which in the error (e.g. ``"> 0"``)."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {rule}, got {raw!r}") from None
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"expected a number {rule}, got {raw!r}")
        return value

    return parse


non_negative = number(">= 0", lambda value: value >= 0)
positive = number("> 0", lambda value: value > 0)
