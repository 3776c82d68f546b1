"""IEC 61131-3 standard functions: type rules and Python translation."""

from __future__ import annotations

import re

from ..iec_types import ELEMENTARY, IecType
from .expressions import (ANY_INT, ANY_REAL, BOOL, DINT, LREAL, REAL, TIME, Expr, common_numeric, is_int,
                          is_num, is_real, type_name, wrap_code)

_CONV = re.compile(r"^([A-Z]+)_TO_([A-Z]+)$")
_MATH = {"SQRT": "_sqrt", "LN": "_ln", "LOG": "_log", "EXP": "_exp", "SIN": "_sin", "COS": "_cos",
         "TAN": "_tan", "ASIN": "_asin", "ACOS": "_acos", "ATAN": "_atan"}
NAMES = {"ABS", "MIN", "MAX", "LIMIT", "SEL", "MUX", "SHL", "SHR", "ROL", "ROR", "TRUNC", "EXPT", "MOVE",
         *_MATH}


def is_standard(name: str) -> bool:
    n = name.upper()
    if n in NAMES:
        return True
    m = _CONV.match(n)
    return bool(m and _conv_type(m.group(1)) and _conv_type(m.group(2)))


def _conv_type(name: str) -> IecType | None:
    return ELEMENTARY.get(name)


def _concrete(t: IecType) -> IecType:
    # untyped literals stay polymorphic: MIN(3, 1) adapts to its assignment target
    return t


def call(name: str, args: list[Expr], fail, where: str) -> Expr:
    n = name.upper()
    m = _CONV.match(n)
    if m:
        return _convert(_conv_type(m.group(1)), _conv_type(m.group(2)), args, fail, where, n)

    def need(k: int) -> None:
        if len(args) != k:
            raise fail(f"{n} takes {k} argument(s), got {len(args)}")

    if n in _MATH:
        need(1)
        a = args[0]
        if not is_num(a.type):
            raise fail(f"{n} needs a number, got {type_name(a.type)}")
        t = a.type if is_real(a.type) and a.type is not ANY_REAL else LREAL if a.type is ANY_REAL else REAL
        if is_int(a.type) and a.type.bits > 32:
            t = LREAL
        return Expr(f"{_MATH[n]}({a.code})", t)
    if n == "ABS":
        need(1)
        a = args[0]
        if not is_num(a.type):
            raise fail(f"ABS needs a number, got {type_name(a.type)}")
        t = _concrete(a.type)
        return Expr(wrap_code(f"abs({a.code})", t) if is_int(t) else f"abs({a.code})", t)
    if n in ("MIN", "MAX"):
        if len(args) < 2:
            raise fail(f"{n} takes at least 2 arguments")
        t = args[0]
        for a in args[1:]:
            t = Expr("", _same_or_common(t, a, n, fail))
        return Expr(f"{n.lower()}({', '.join(a.code for a in args)})", _concrete(t.type))
    if n == "LIMIT":
        need(3)
        mn, x, mx = args
        t = _same_or_common(mn, x, n, fail)
        t = _same_or_common(Expr("", t), mx, n, fail)
        return Expr(f"min(max({x.code}, {mn.code}), {mx.code})", _concrete(t))
    if n == "SEL":
        need(3)
        g, a, b = args
        if g.type.kind != "bool":
            raise fail(f"SEL selector must be BOOL, got {type_name(g.type)}")
        t = _same_or_common(a, b, n, fail)
        return Expr(f"({b.code} if {g.code} else {a.code})", _concrete(t))
    if n == "MUX":
        if len(args) < 3:
            raise fail("MUX takes a selector and at least 2 inputs")
        k, vals = args[0], args[1:]
        if not is_int(k.type):
            raise fail(f"MUX selector must be an integer, got {type_name(k.type)}")
        t = vals[0]
        for v in vals[1:]:
            t = Expr("", _same_or_common(t, v, n, fail))
        return Expr(f"_mux({k.code}, {where!r}, {', '.join(v.code for v in vals)})", _concrete(t.type))
    if n in ("SHL", "SHR", "ROL", "ROR"):
        need(2)
        a, k = args
        if not is_int(a.type) or not is_int(k.type):
            raise fail(f"{n} needs an integer or bit string and a shift count")
        t = _concrete(a.type)
        mask = (1 << t.bits) - 1
        if n == "SHL":
            code = wrap_code(f"(({a.code}) & {mask}) << ({k.code})", t)
        elif n == "SHR":
            code = wrap_code(f"(({a.code}) & {mask}) >> ({k.code})", t)
        else:
            code = wrap_code(f"_{n.lower()}(({a.code}) & {mask}, {k.code}, {t.bits})", t)
        return Expr(code, t)
    if n == "TRUNC":
        need(1)
        a = args[0]
        if not is_real(a.type):
            raise fail(f"TRUNC needs a REAL or LREAL, got {type_name(a.type)}")
        return Expr(f"_trunc({a.code}, 32, True, {where!r})", DINT)
    if n == "EXPT":
        need(2)
        a, b = args
        if not (is_num(a.type) and is_num(b.type)):
            raise fail("EXPT needs numbers")
        t = LREAL if LREAL in (a.type, b.type) else REAL
        return Expr(f"_expt({a.code}, {b.code})", t)
    if n == "MOVE":
        need(1)
        return args[0]
    raise fail(f"unknown function {name}")  # pragma: no cover - guarded by is_standard


def _same_or_common(a: Expr, b: Expr, n: str, fail) -> IecType:
    if a.type.kind in ("bool", "time") or b.type.kind in ("bool", "time"):
        if a.type.kind != b.type.kind:
            raise fail(f"{n}: arguments of types {type_name(a.type)} and {type_name(b.type)} do not match")
        return a.type
    return common_numeric(a, b, n, fail)


def _convert(src: IecType, dst: IecType, args: list[Expr], fail, where: str, n: str) -> Expr:
    if len(args) != 1:
        raise fail(f"{n} takes 1 argument, got {len(args)}")
    a = args[0]
    at = a.type
    ok = (at == src) or (at is ANY_INT and src.kind == "int") or (at is ANY_REAL and src.kind == "real") \
        or (is_int(at) and src.kind == "int" and at.bits <= src.bits)
    if not ok:
        raise fail(f"{n} expects {src.name}, got {type_name(at)}")
    c = a.code
    if dst.kind == "bool":
        return Expr(f"(({c}) != 0)", BOOL)
    if src.kind == "bool":
        c = f"int({c})"
        if dst.kind == "real":
            return Expr(f"float({c})", dst)
        return Expr(c, dst)
    if dst.kind == "real":
        return Expr(f"_f32({c})" if dst.bits == 32 else f"float({c})", dst)
    if dst.kind == "time":
        if src.kind == "real":
            return Expr(f"_r2i({c}, 64, True, {where!r})", TIME)
        return Expr(c, TIME)
    # integer destination
    if src.kind == "real":
        return Expr(f"_r2i({c}, {dst.bits}, {dst.signed}, {where!r})", dst)
    return Expr(wrap_code(c, dst), dst)
