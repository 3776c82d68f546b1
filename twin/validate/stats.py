"""Confidence intervals of paired differences, and how many replications a decision needs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    sd: float
    lo: float
    hi: float
    confidence: float

    def as_dict(self) -> dict:
        return {"n": self.n, "mean": round(self.mean, 6), "sd": round(self.sd, 6),
                "ci": [round(self.lo, 6), round(self.hi, 6)], "confidence": self.confidence}


def interval(xs: list[float], confidence: float) -> Interval | None:
    """Student-t interval of the mean; None with fewer than two values (no variance to judge by)."""
    n = len(xs)
    if n < 2:
        return None
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(n, float(mean), float(sd), float(mean - half), float(mean + half), confidence)


def replications_needed(mean: float, sd: float, bound: float, confidence: float, have: int) -> int | None:
    """Smallest n whose interval half-width would exclude `bound`, at the observed mean and sd.

    None when the mean sits on the bound (no number of replications can decide).
    """
    gap = abs(mean - bound)
    if gap == 0:
        return None
    if sd == 0:
        return max(have, 2)
    n = max(have, 2)
    while n < 100_000:
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
        if half < gap:
            return n
        n = max(n + 1, int(n * 1.2))
    return None


def smallest_detectable(sd: float, n: int, confidence: float) -> float:
    """Half-width of the interval: the smallest mean difference the test can tell from zero."""
    if n < 2:
        return math.inf
    return stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
