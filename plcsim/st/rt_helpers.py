"""Helpers the generated code calls for operations Python does differently from IEC.

Integer division truncates toward zero and MOD takes the dividend's sign
(IEC, like C); Python floors. Array indices are bounds-checked because a
Python negative index would silently read the other end.
"""

from __future__ import annotations

import math

from ..iec_types import to_f32
from ..iec_types import wrap_int as wrap
from .errors import PlcRuntimeError

LOOP_LIMIT = 1_000_000  # iterations of one loop in one scan before the watchdog trips


def idiv(a: int, b: int, where: str) -> int:
    if b == 0:
        raise PlcRuntimeError(f"{where}: integer division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def imod(a: int, b: int, where: str) -> int:
    if b == 0:
        raise PlcRuntimeError(f"{where}: MOD by zero")
    return a - b * idiv(a, b, where)


def rdiv(a: float, b: float) -> float:
    """IEEE 754 division: x/0 is +-inf, 0/0 is NaN (as PLC FPUs do)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def expt(a: float, b: float) -> float:
    try:
        r = float(a) ** float(b)
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.inf
    return math.nan if isinstance(r, complex) else r


def index(i: int, lo: int, hi: int, where: str) -> int:
    if i < lo or i > hi:
        raise PlcRuntimeError(f"{where}: array index {i} outside [{lo}..{hi}]")
    return i - lo


def watchdog(where: str) -> None:
    raise PlcRuntimeError(f"{where}: watchdog: loop exceeded {LOOP_LIMIT} iterations in one scan")


def real_to_int(x: float, bits: int, signed: bool, where: str) -> int:
    """IEC REAL_TO_INT rounds to nearest, halves away from zero; NaN/inf faults."""
    if math.isnan(x) or math.isinf(x):
        raise PlcRuntimeError(f"{where}: cannot convert {x} to an integer")
    r = math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)
    return wrap(r, bits, signed)


def trunc(x: float, bits: int, signed: bool, where: str) -> int:
    if math.isnan(x) or math.isinf(x):
        raise PlcRuntimeError(f"{where}: cannot convert {x} to an integer")
    return wrap(int(x), bits, signed)


def mux(k: int, where: str, *values):
    if not 0 <= k < len(values):
        raise PlcRuntimeError(f"{where}: MUX selector {k} outside 0..{len(values) - 1}")
    return values[k]


def sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else math.nan


def ln(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def log10(x: float) -> float:
    if x > 0:
        return math.log10(x)
    return -math.inf if x == 0 else math.nan


def _domain(fn):
    def safe(x: float) -> float:
        try:
            return fn(x)
        except (ValueError, OverflowError):
            return math.nan
    return safe


exp = _domain(math.exp)
asin = _domain(math.asin)
acos = _domain(math.acos)
sin = _domain(math.sin)
cos = _domain(math.cos)
tan = _domain(math.tan)
atan = math.atan


def rol(v: int, n: int, bits: int) -> int:
    n %= bits
    mask = (1 << bits) - 1
    return ((v << n) | (v >> (bits - n))) & mask


def ror(v: int, n: int, bits: int) -> int:
    n %= bits
    mask = (1 << bits) - 1
    return ((v >> n) | (v << (bits - n))) & mask


HELPERS = {
    "_idiv": idiv, "_imod": imod, "_rdiv": rdiv, "_expt": expt, "_ix": index, "_wd": watchdog,
    "_r2i": real_to_int, "_trunc": trunc, "_wrap": wrap, "_mux": mux, "_f32": to_f32,
    "_sqrt": sqrt, "_ln": ln, "_log": log10, "_exp": exp, "_sin": sin, "_cos": cos, "_tan": tan,
    "_asin": asin, "_acos": acos, "_atan": atan, "_rol": rol, "_ror": ror, "_LOOP_LIMIT": LOOP_LIMIT,
}
