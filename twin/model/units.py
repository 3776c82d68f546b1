"""Durations and random distributions as they appear in scenario files.

Durations are written '250ms', '1.5s', '30m', '8h' (a bare number is
seconds) and held in milliseconds, the unit of the twin's clock.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)", re.IGNORECASE)
_SCALE = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "min": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}


def parse_duration(value) -> float:
    """'1h30m' -> 5400000.0 ms. Negative or malformed durations are errors."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 250ms, 30s, 8h")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"duration must be finite (got {value})")
        if value < 0:
            raise ValueError(f"duration must not be negative (got {value})")
        return float(value) * 1000.0
    if not isinstance(value, str):
        raise ValueError("expected a duration like 250ms, 30s, 8h")
    s = value.strip()
    if s.startswith("-"):
        raise ValueError(f"duration must not be negative (got {value!r})")
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if s[pos:m.start()].strip():
            break
        total += float(m.group(1)) * _SCALE[m.group(2).lower()]
        pos = m.end()
    if not s or s[pos:].strip():
        raise ValueError(f"bad duration {value!r}; use e.g. 250ms, 30s, 5m, 8h")
    return total


Duration = Annotated[float, BeforeValidator(parse_duration)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fixed(_Strict):
    dist: Literal["fixed"]
    value: Duration


class Normal(_Strict):
    """Normal, truncated below at `min` (default: 10% of the mean) so times stay positive."""

    dist: Literal["normal"]
    mean: Duration
    sd: Duration
    min: Duration | None = None


class LogNormal(_Strict):
    """Parameterised by the mean and standard deviation of the time itself (not of its log)."""

    dist: Literal["lognormal"]
    mean: Duration
    sd: Duration

    @model_validator(mode="after")
    def _positive(self):
        if self.mean <= 0:
            raise ValueError("lognormal mean must be positive")
        return self


class Exponential(_Strict):
    dist: Literal["exponential"]
    mean: Duration


class Uniform(_Strict):
    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _order(self):
        if self.high < self.low:
            raise ValueError("uniform needs low <= high")
        return self


class Triangular(_Strict):
    dist: Literal["triangular"]
    low: Duration
    mode: Duration
    high: Duration

    @model_validator(mode="after")
    def _order(self):
        if not self.low <= self.mode <= self.high:
            raise ValueError("triangular needs low <= mode <= high")
        return self


Distribution = Annotated[Union[Fixed, Normal, LogNormal, Exponential, Uniform, Triangular],
                         Field(discriminator="dist")]


def mean_of(d) -> float:
    if isinstance(d, Fixed):
        return d.value
    if isinstance(d, Uniform):
        return (d.low + d.high) / 2
    if isinstance(d, Triangular):
        return (d.low + d.mode + d.high) / 3
    return d.mean


def sample(d, rng) -> float:
    """One draw in milliseconds from numpy Generator `rng`."""
    if isinstance(d, Fixed):
        return d.value
    if isinstance(d, Normal):
        lo = d.min if d.min is not None else 0.1 * d.mean
        return max(lo, rng.normal(d.mean, d.sd))
    if isinstance(d, LogNormal):
        var = math.log(1.0 + (d.sd / d.mean) ** 2)
        return float(rng.lognormal(math.log(d.mean) - var / 2, math.sqrt(var)))
    if isinstance(d, Exponential):
        return float(rng.exponential(d.mean))
    if isinstance(d, Uniform):
        return float(rng.uniform(d.low, d.high))
    return float(rng.triangular(d.low, d.mode, d.high))
