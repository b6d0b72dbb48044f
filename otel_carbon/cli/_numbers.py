"""Argument types for the numbers and durations the subcommands take: a clear one-line error for anything else."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


def duration(raw: str) -> timedelta:
    """``90s``, ``30m``, ``8h``, ``1h30m``, ``2d`` → timedelta (> 0)."""
    text = raw.strip().lower()
    parts = _PART.findall(text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 30m, 8h or 1h30m, got {raw!r}")
    seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration > 0, got {raw!r}")
    return timedelta(seconds=seconds)
