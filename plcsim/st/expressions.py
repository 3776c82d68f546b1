"""Type-checked translation of ST expressions to Python expressions.

Each translated expression carries its IEC type. Integer arithmetic wraps to
the result type's width at every operation (INT is 16-bit two's complement);
REAL values are rounded to binary32 when stored (intermediates are double).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blark import transform as tf

from ..iec_types import BIT_STRINGS, ELEMENTARY, IecType
from .errors import StError
from .symbols import ANY_INT, ANY_REAL, ArrayT, FbT, Var, pos

BOOL = ELEMENTARY["BOOL"]
TIME = ELEMENTARY["TIME"]
LREAL = ELEMENTARY["LREAL"]
REAL = ELEMENTARY["REAL"]
DINT = ELEMENTARY["DINT"]
LINT = ELEMENTARY["LINT"]


@dataclass(frozen=True)
class Expr:
    code: str
    type: Any  # IecType | ArrayT | FbT
    const: Any = None  # Python value when known at compile time
    assignable: bool = False


def is_int(t: Any) -> bool:
    return isinstance(t, IecType) and t.kind == "int"


def is_real(t: Any) -> bool:
    return isinstance(t, IecType) and t.kind == "real"


def is_num(t: Any) -> bool:
    return is_int(t) or is_real(t)


def wrap_code(code: str, t: IecType) -> str:
    """Python code that wraps an integer expression into type t."""
    if t is ANY_INT or t.kind != "int":
        return code
    mask = (1 << t.bits) - 1
    if t.signed:
        half = 1 << (t.bits - 1)
        return f"((({code}) + {half}) & {mask}) - {half}"
    return f"(({code}) & {mask})"


def type_name(t: Any) -> str:
    if t is ANY_INT:
        return "integer literal"
    if t is ANY_REAL:
        return "real literal"
    return t.name


def time_literal(node: tf.Duration, fail) -> int:
    total = 0.0
    for part, scale in (("days", 86_400_000), ("hours", 3_600_000), ("minutes", 60_000),
                        ("seconds", 1000), ("milliseconds", 1)):
        tok = getattr(node, part)
        if tok is not None:
            total += float(str(tok).replace("_", "")) * scale
    if abs(total - round(total)) > 1e-9:
        raise fail(f"TIME literal {node} has a sub-millisecond part; plcsim's TIME resolution is 1 ms")
    ms = int(round(total))
    return -ms if node.negative else ms


def literal(node: Any, fail) -> Expr:
    """Translate a literal; typed literals (INT#5) take their type."""
    if isinstance(node, tf.Boolean):
        v = str(node.value).upper() in ("TRUE", "1")
        return Expr(repr(v), BOOL, v)
    if isinstance(node, tf.Duration):
        ms = time_literal(node, fail)
        return Expr(repr(ms), TIME, ms)
    if isinstance(node, (tf.Integer, tf.BitString)):
        text = str(node.value).replace("_", "")
        base = getattr(node, "base", 10)
        if "#" in text:  # bit string literal with explicit base: 16#FF
            b, _, text = text.partition("#")
            base = int(b)
        try:
            v = int(text, base)
        except ValueError:
            raise fail(f"bad integer literal {node}") from None
        return _typed(Expr(repr(v), ANY_INT, v), getattr(node, "type_name", None), fail)
    if isinstance(node, tf.Real):
        v = float(str(node.value).replace("_", ""))
        return _typed(Expr(repr(v), ANY_REAL, v), getattr(node, "type_name", None), fail)
    raise fail(f"unsupported literal {type(node).__name__} ({node})")


def _typed(e: Expr, type_tok: Any, fail) -> Expr:
    if type_tok is None:
        return e
    t = ELEMENTARY.get(str(type_tok).upper())
    if t is None:
        raise fail(f"unknown type prefix {type_tok}#")
    if t.kind == "int":
        if e.type is ANY_REAL:
            raise fail(f"{type_tok}# needs an integer literal")
        if not t.min <= e.const <= t.max:
            raise fail(f"literal {e.const} out of range for {t.name} ({t.min}..{t.max})")
        return Expr(repr(e.const), t, e.const)
    if t.kind == "real":
        v = float(e.const)
        return Expr(repr(v), t, v)
    if t.kind == "bool" and e.const in (0, 1):
        return Expr(repr(bool(e.const)), BOOL, bool(e.const))
    raise fail(f"{type_tok}# cannot prefix {e.const}")


def common_numeric(a: Expr, b: Expr, op: str, fail) -> IecType:
    """The type an arithmetic operation on a and b computes in."""
    ta, tb = a.type, b.type
    if ta.kind == "time" or tb.kind == "time":
        if op in ("+", "-") and ta.kind == tb.kind == "time":
            return TIME
        if op in ("*", "/") and ta.kind == "time" and (is_int(tb)):
            return TIME
        if op == "*" and tb.kind == "time" and is_int(ta):
            return TIME
        raise fail(f"operator {op} is not defined for {type_name(ta)} and {type_name(tb)}")
    if not (is_num(ta) and is_num(tb)):
        raise fail(f"operator {op} needs numbers, got {type_name(ta)} and {type_name(tb)}")
    if is_real(ta) or is_real(tb):
        if ta is LREAL or tb is LREAL:
            return LREAL
        if ta is REAL or tb is REAL:
            return REAL
        return ANY_REAL
    if ta is ANY_INT:
        return tb
    if tb is ANY_INT:
        return ta
    return ta if ta.bits >= tb.bits else tb


def coerce(e: Expr, target: Any, fail, what: str = "assignment") -> str:
    """Python code converting expression e for storage into a target of type `target`."""
    t = e.type
    if isinstance(target, ArrayT) or isinstance(t, ArrayT):
        if target != t:
            raise fail(f"{what}: cannot assign {type_name(t)} to {type_name(target)}")
        return f"list({e.code})"
    if isinstance(target, FbT) or isinstance(t, FbT):
        raise fail(f"{what}: function block instances cannot be assigned")
    if target.kind == "bool":
        if t.kind != "bool":
            raise fail(f"{what}: cannot assign {type_name(t)} to BOOL")
        return e.code
    if target.kind == "time":
        if t.kind != "time":
            raise fail(f"{what}: cannot assign {type_name(t)} to TIME (use a T#... literal or DINT_TO_TIME)")
        return e.code
    if target.kind == "int":
        if t.kind == "real":
            raise fail(f"{what}: cannot assign {type_name(t)} to {target.name} implicitly; use {_conv_name(t)}_TO_{target.name}")
        if t.kind != "int":
            raise fail(f"{what}: cannot assign {type_name(t)} to {target.name}")
        if t is ANY_INT:
            if e.const is not None and not (target.min <= e.const <= target.max):
                if not (target.name in BIT_STRINGS and 0 <= e.const <= target.max):
                    raise fail(f"{what}: {e.const} out of range for {target.name} ({target.min}..{target.max})")
            return wrap_code(e.code, target) if e.const is None else repr(_wrapv(e.const, target))
        if t.bits > target.bits:
            raise fail(f"{what}: implicit narrowing from {t.name} to {target.name}; use {t.name}_TO_{target.name}")
        return e.code if t == target else wrap_code(e.code, target)
    # real target
    if t.kind not in ("int", "real"):
        raise fail(f"{what}: cannot assign {type_name(t)} to {target.name}")
    if target.bits == 32 and not (t is REAL and e.assignable):  # a stored REAL is already binary32
        if e.const is not None:
            from ..iec_types import to_f32
            return repr(to_f32(float(e.const)))
        return f"_f32({e.code})"
    return e.code if is_real(t) else f"float({e.code})"


def _conv_name(t: IecType) -> str:
    return "LREAL" if t is ANY_REAL else t.name


def _wrapv(v: int, t: IecType) -> int:
    from ..iec_types import wrap_int
    return wrap_int(v, t.bits, t.signed)


def located_fail(filename: str, node: Any):
    line, col = pos(node)

    def fail(msg: str) -> StError:
        return StError(filename, line, col, msg)

    return fail


__all__ = ["Expr", "literal", "coerce", "common_numeric", "wrap_code", "is_int", "is_real", "is_num",
           "type_name", "Var", "BOOL", "TIME", "REAL", "LREAL", "DINT", "LINT", "ANY_INT", "ANY_REAL"]
