"""The statistical test for noisy (measured) figures: one-sided Mann–Whitney U.

Measured energy varies from run to run, so a measured unit regresses only when
its candidate samples are *significantly* larger than the baseline samples
scaled by the allowed increase.  Mann–Whitney makes no assumption of normality
(energy samples are skewed by the odd slow run) and needs no SciPy: the exact
null distribution of U is counted for up to 40 samples in all, a normal
approximation with tie and continuity corrections is used beyond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

_EXACT_LIMIT = 40


def mann_whitney_greater(candidate: Sequence[float], baseline: Sequence[float]) -> float:
    """P-value of H0 "candidate is not stochastically greater than baseline" (one-sided), in [0, 1].

    Ties count one half.  Both samples must be non-empty.
    """
    n, m = len(candidate), len(baseline)
    if n == 0 or m == 0:
        raise ValueError("both samples need at least one value")
    u = sum(1.0 if c > b else 0.5 if c == b else 0.0 for c in candidate for b in baseline)
    if n + m <= _EXACT_LIMIT:
        counts = _u_counts(n, m)
        total = math.comb(n + m, n)
        threshold = math.ceil(u - 1e-9)  # U takes whole values without ties; ties round towards H0
        return sum(counts[k] for k in range(threshold, n * m + 1)) / total
    mean = n * m / 2.0
    ranks = sorted(list(candidate) + list(baseline))
    ties = _tie_term(ranks)
    variance = n * m / 12.0 * ((n + m + 1) - ties / ((n + m) * (n + m - 1)))
    if variance <= 0:
        return 1.0
    z = (u - mean - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def smallest_p(n: int, m: int) -> float:
    """The smallest p-value :func:`mann_whitney_greater` can give with ``n`` and ``m`` samples."""
    return 1.0 / math.comb(n + m, n)


@lru_cache(maxsize=64)
def _u_counts(n: int, m: int) -> tuple[int, ...]:
    """How many of the C(n+m, n) orderings give each U = 0 … n·m (the exact null distribution)."""
    # table[i][j] = counts of U for i candidate and j baseline values, built by the last element.
    table: dict[tuple[int, int], list[int]] = {}
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                table[(i, j)] = [1] + [0] * (i * j)
                continue
            counts = [0] * (i * j + 1)
            # Largest value is a candidate: it beats all j baseline values.
            for u, c in enumerate(table[(i - 1, j)]):
                counts[u + j] += c
            for u, c in enumerate(table[(i, j - 1)]):
                counts[u] += c
            table[(i, j)] = counts
    return tuple(table[(n, m)])


def _tie_term(values: Sequence[float]) -> float:
    """Σ (t³ − t) over groups of equal values (the tie correction of the U variance)."""
    term = 0.0
    run = 1
    for previous, current in pairwise(values):
        if current == previous:
            run += 1
            continue
        term += run**3 - run
        run = 1
    return term + run**3 - run
