"""Translate the body of one POU into Python source.

Programs and function blocks become classes whose ``__call__`` runs the body
on ``self.v_<var>`` slots; functions become plain Python functions on locals.
Errors are collected per statement so one compile reports them all.
"""

from __future__ import annotations

from typing import Any

from blark import transform as tf

from ..iec_types import IecType
from . import stdlib_fn
from .errors import StError
from .expressions import (ANY_INT, ANY_REAL, BOOL, LREAL, REAL, Expr, coerce, common_numeric, is_int, is_num, is_real, literal,
                          type_name, wrap_code)
from .stdlib_fb import STANDARD_FBS
from .symbols import ArrayT, FbT, Pou, Var, pos

TIMERS = frozenset({"TON", "TOF", "TP"})
_CMP = {"=": "==", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_ARITH = {"+", "-", "*", "/", "MOD"}


class PouCodegen:
    def __init__(self, pou: Pou, pous: dict[str, Pou], filename: str) -> None:
        self.pou, self.pous, self.filename = pou, pous, filename
        self.errors: list[StError] = []
        self.lines: list[str] = []
        self._tmp = 0
        self._loop_depth = 0
        self.is_function = pou.kind == "FUNCTION"
        self.reads_timer_et = False
        self.written: set[str] = set()  # variables this POU assigns (roots)

    # ------------------------------------------------------------ utilities
    def fail(self, node: Any, msg: str) -> StError:
        line, col = pos(node)
        return StError(self.filename, line, col, msg)

    def failer(self, node: Any):
        return lambda msg: self.fail(node, msg)

    def where(self, node: Any) -> str:
        line, _ = pos(node)
        return f"{self.filename}:{line}"

    def tmp(self, stem: str) -> str:
        self._tmp += 1
        return f"_{stem}{self._tmp}"

    def emit(self, depth: int, code: str) -> None:
        self.lines.append("    " * depth + code)

    def var_ref(self, v: Var) -> str:
        return v.attr if self.is_function else f"self.{v.attr}"

    # ---------------------------------------------------------- expressions
    def expr(self, node: Any) -> Expr:
        if isinstance(node, tf.ParenthesizedExpression):
            e = self.expr(node.expr)
            return Expr(f"({e.code})", e.type, e.const)
        if isinstance(node, (tf.Integer, tf.Real, tf.Boolean, tf.Duration, tf.BitString)):
            return literal(node, self.failer(node))
        if isinstance(node, (tf.SimpleVariable, tf.MultiElementVariable)):
            return self.variable(node)
        if isinstance(node, tf.EnumeratedValue) and node.type_name is None and node.value is None:
            # blark reads a bare name in a CASE label as an enum value; it is a constant
            return self.variable(tf.SimpleVariable(name=node.name, dereferenced=False, meta=node.meta))
        if isinstance(node, tf.BinaryOperation):
            return self.binary(node)
        if isinstance(node, tf.UnaryOperation):
            return self.unary(node)
        if isinstance(node, tf.FunctionCall):
            return self.function_call(node)
        if isinstance(node, tf.Lduration):
            raise self.fail(node, "LTIME is not supported; use TIME")
        if isinstance(node, (tf.TimeOfDay, tf.Date, tf.DateTime, tf.String)):
            raise self.fail(node, f"{type(node).__name__} literals are not supported")
        raise self.fail(node, f"unsupported expression {type(node).__name__}: {node}")

    def lookup(self, name_tok: Any) -> Var:
        v = self.pou.vars.get(str(name_tok).lower())
        if v is None:
            raise self.fail(name_tok, f"undeclared variable {name_tok}")
        return v

    def variable(self, node: Any, *, for_write: bool = False) -> Expr:
        if isinstance(node, tf.SimpleVariable):
            if node.dereferenced:
                raise self.fail(node, "pointer dereference (^) is not supported")
            v = self.lookup(node.name)
            if for_write and v.constant:
                raise self.fail(node, f"cannot assign to CONSTANT {v.name}")
            const = None
            if v.constant and isinstance(v.type, IecType) and v.init is not None and not for_write:
                const = self.expr(v.init).const  # lets CONSTANTs serve as CASE labels
            return Expr(self.var_ref(v), v.type, const, assignable=not v.constant)
        if node.dereferenced:
            raise self.fail(node, "pointer dereference (^) is not supported")
        base = self.variable(node.name, for_write=False)
        code, typ = base.code, base.type
        if for_write:
            v = self.lookup(node.name.name)
            if v.constant:
                raise self.fail(node, f"cannot assign to CONSTANT {v.name}")
        for el in node.elements:
            if isinstance(el, tf.SubscriptList):
                if not isinstance(typ, ArrayT):
                    raise self.fail(node, f"{node.name} is not an array")
                code, typ = self.subscript(code, typ, el, node), typ.elem
            elif isinstance(el, tf.FieldSelector):
                if not isinstance(typ, FbT):
                    raise self.fail(node, f"{type_name(typ)} has no member {el.field.name}")
                member = str(el.field.name).lower()
                mtype, section = self.fb_member(typ, member, el.field)
                if for_write and section == "VAR_OUTPUT":
                    raise self.fail(node, f"cannot assign to output {el.field.name} of a function block instance")
                if for_write and section == "VAR" :
                    raise self.fail(node, f"{el.field.name} is internal to {typ.name}")
                if member == "et" and not for_write and typ.name in TIMERS:
                    self.reads_timer_et = True  # scan skipping must then treat ET as state
                code, typ = f"{code}.v_{member}", mtype
            else:  # pragma: no cover
                raise self.fail(node, f"unsupported selector {el}")
        return Expr(code, typ, assignable=True)

    def subscript(self, code: str, typ: ArrayT, sl: tf.SubscriptList, node: Any) -> str:
        if len(sl.subscripts) != len(typ.dims):
            raise self.fail(node, f"{typ.name} needs {len(typ.dims)} index(es), got {len(sl.subscripts)}")
        parts, stride = [], 1
        strides = []
        for lo, hi in reversed(typ.dims):
            strides.append(stride)
            stride *= hi - lo + 1
        strides.reverse()
        for sub, (lo, hi), st in zip(sl.subscripts, typ.dims, strides):
            e = self.expr(sub)
            if not is_int(e.type):
                raise self.fail(node, f"array index must be an integer, got {type_name(e.type)}")
            if e.const is not None:
                if not lo <= e.const <= hi:
                    raise self.fail(node, f"index {e.const} outside [{lo}..{hi}]")
                off = str(e.const - lo)
            else:
                off = f"_ix({e.code}, {lo}, {hi}, {self.where(node)!r})"
            parts.append(off if st == 1 else f"{off} * {st}")
        return f"{code}[{' + '.join(parts)}]"

    def fb_member(self, fbt: FbT, member: str, node: Any) -> tuple[Any, str]:
        if fbt.name in STANDARD_FBS:
            for n, t, section in STANDARD_FBS[fbt.name].MEMBERS:
                if n.lower() == member:
                    return t, section
        else:
            v = self.pous[fbt.name].vars.get(member)
            if v is not None:
                return v.type, v.section
        raise self.fail(node, f"{fbt.name} has no member {node}")

    def binary(self, node: tf.BinaryOperation) -> Expr:
        op = str(node.op).upper()
        a, b = self.expr(node.left), self.expr(node.right)
        fail = self.failer(node)
        if op in ("AND", "OR", "XOR", "AND_THEN", "OR_ELSE"):
            if a.type.kind == "bool" and b.type.kind == "bool":
                py = {"AND": "&", "OR": "|", "XOR": "^", "AND_THEN": "and", "OR_ELSE": "or"}[op]
                return Expr(f"({a.code} {py} {b.code})", BOOL)
            if is_int(a.type) and is_int(b.type) and op in ("AND", "OR", "XOR"):
                t = common_numeric(a, b, op, fail)
                py = {"AND": "&", "OR": "|", "XOR": "^"}[op]
                return Expr(wrap_code(f"{a.code} {py} {b.code}", t), t)
            raise fail(f"{op} needs two BOOLs or two bit strings, got {type_name(a.type)} and {type_name(b.type)}")
        if op in _CMP:
            if a.type.kind != b.type.kind and not (is_num(a.type) and is_num(b.type)):
                raise fail(f"cannot compare {type_name(a.type)} with {type_name(b.type)}")
            if isinstance(a.type, (ArrayT, FbT)) or isinstance(b.type, (ArrayT, FbT)):
                raise fail("only elementary values can be compared")
            return Expr(f"({a.code} {_CMP[op]} {b.code})", BOOL)
        if op == "**":
            if not (is_num(a.type) and is_num(b.type)):
                raise fail(f"** needs numbers, got {type_name(a.type)} and {type_name(b.type)}")
            wide = any(t is LREAL or (is_int(t) and t is not ANY_INT and t.bits > 32) for t in (a.type, b.type))
            return Expr(f"_expt({a.code}, {b.code})", LREAL if wide else REAL)
        if op in _ARITH:
            if isinstance(a.type, (ArrayT, FbT)) or isinstance(b.type, (ArrayT, FbT)):
                raise fail(f"operator {op} needs elementary operands")
            t = common_numeric(a, b, op, fail)
            if a.const is not None and b.const is not None and t in (ANY_INT, ANY_REAL):
                return self._fold(op, a, b, t, node)
            if t.kind == "real" or t is ANY_REAL:
                if op == "MOD":
                    raise fail("MOD needs integers")
                if op == "/":
                    return Expr(f"_rdiv({a.code}, {b.code})", t)
                return Expr(f"({a.code} {op} {b.code})", t)
            where = self.where(node)
            if op == "/":
                return Expr(wrap_code(f"_idiv({a.code}, {b.code}, {where!r})", t), t)
            if op == "MOD":
                return Expr(wrap_code(f"_imod({a.code}, {b.code}, {where!r})", t), t)
            return Expr(wrap_code(f"{a.code} {op} {b.code}", t), t)
        raise fail(f"unsupported operator {op}")

    def _fold(self, op: str, a: Expr, b: Expr, t: Any, node: Any) -> Expr:
        x, y = a.const, b.const
        if op in ("/", "MOD") and y == 0:
            raise self.fail(node, "division by zero in a constant expression")
        if t is ANY_INT:
            from .rt_helpers import idiv, imod
            v = {"+": x + y, "-": x - y, "*": x * y}.get(op)
            if op == "/":
                v = idiv(x, y, "")
            elif op == "MOD":
                v = imod(x, y, "")
        else:
            v = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else 0.0}.get(op, 0.0)
            v = float(v)
        return Expr(repr(v), t, v)

    def unary(self, node: tf.UnaryOperation) -> Expr:
        op = str(node.op).upper()
        e = self.expr(node.expr)
        if op == "NOT":
            if e.type.kind == "bool":
                return Expr(f"(not {e.code})", BOOL, None if e.const is None else not e.const)
            if is_int(e.type) and e.type is not ANY_INT:
                return Expr(wrap_code(f"~({e.code})", e.type), e.type)
            raise self.fail(node, f"NOT needs BOOL or a bit string, got {type_name(e.type)}")
        if op == "-":
            if e.const is not None and e.type in (ANY_INT, ANY_REAL):
                return Expr(repr(-e.const), e.type, -e.const)
            if is_int(e.type):
                return Expr(wrap_code(f"-({e.code})", e.type), e.type)
            if is_real(e.type) or e.type.kind == "time":
                return Expr(f"(-{e.code})", e.type)
            raise self.fail(node, f"unary minus needs a number, got {type_name(e.type)}")
        if op == "+":
            return e
        raise self.fail(node, f"unsupported unary operator {op}")

    def function_call(self, node: tf.FunctionCall) -> Expr:
        name = str(node.name.name if isinstance(node.name, tf.SimpleVariable) else node.name)
        key = name.upper()
        if key in self.pous and self.pous[key].kind == "FUNCTION":
            return self.user_function(self.pous[key], node)
        if key in self.pous or key in STANDARD_FBS:
            raise self.fail(node, f"{name} is a function block type; declare an instance and call it as a statement")
        if not stdlib_fn.is_standard(key):
            v = self.pou.vars.get(name.lower())
            if v is not None and isinstance(v.type, FbT):
                raise self.fail(node, f"function block instance {name} must be called as a statement")
            raise self.fail(node, f"unknown function {name}")
        args = []
        for p in node.parameters:
            if isinstance(p, tf.OutputParameterAssignment):
                raise self.fail(node, f"{name} has no outputs")
            args.append(self.expr(p.value))
        return stdlib_fn.call(key, args, self.failer(node), self.where(node))

    def user_function(self, fn: Pou, node: tf.FunctionCall) -> Expr:
        inputs = fn.ordered("VAR_INPUT")
        given: dict[str, Expr] = {}
        for i, p in enumerate(node.parameters):
            if isinstance(p, tf.OutputParameterAssignment):
                raise self.fail(node, "function outputs (=>) are not supported; return a value instead")
            if p.name is not None:
                key = str(p.name.name).lower()
                if key not in {v.key for v in inputs}:
                    raise self.fail(node, f"{fn.name} has no input {p.name.name}")
            else:
                if i >= len(inputs):
                    raise self.fail(node, f"{fn.name} takes {len(inputs)} argument(s)")
                key = inputs[i].key
            given[key] = self.expr(p.value)
        codes = []
        for v in inputs:
            e = given.get(v.key)
            if e is None:
                codes.append("None")  # default initial value, applied inside the function
            else:
                codes.append(coerce(e, v.type, self.failer(node), f"argument {v.name} of {fn.name}"))
        return Expr(f"F_{fn.key}({', '.join(codes)})", fn.return_type)

    # ----------------------------------------------------------- statements
    def block(self, stmts: Any, depth: int) -> None:
        start = len(self.lines)
        for s in (stmts.statements if stmts is not None else []):
            try:
                self.statement(s, depth)
            except StError as exc:
                self.errors.append(exc)
        if len(self.lines) == start:
            self.emit(depth, "pass")

    def statement(self, s: Any, d: int) -> None:
        if isinstance(s, tf.AssignmentStatement):
            self.assignment(s, d)
        elif isinstance(s, tf.FunctionCallStatement):
            self.call_statement(s, d)
        elif isinstance(s, tf.IfStatement):
            self.if_statement(s, d)
        elif isinstance(s, tf.CaseStatement):
            self.case_statement(s, d)
        elif isinstance(s, tf.ForStatement):
            self.for_statement(s, d)
        elif isinstance(s, tf.WhileStatement):
            self.loop(s, d, pre=s.expression)
        elif isinstance(s, tf.RepeatStatement):
            self.loop(s, d, post=s.expression)
        elif isinstance(s, tf.ExitStatement):
            if not self._loop_depth:
                raise self.fail(s, "EXIT outside a loop")
            self.emit(d, "break")
        elif isinstance(s, tf.ContinueStatement):
            if not self._loop_depth:
                raise self.fail(s, "CONTINUE outside a loop")
            self.emit(d, "continue")
        elif isinstance(s, tf.ReturnStatement):
            self.emit(d, "return" if not self.is_function else f"return {self._ret_code()}")
        elif isinstance(s, tf.NoOpStatement):
            self.expr(s.variable)  # still checks that it exists
            self.emit(d, "pass")
        else:
            kind = type(s).__name__.replace("Statement", "").upper() or type(s).__name__
            raise self.fail(s, f"unsupported statement {kind} ({str(s).strip()[:40]})")

    def _ret_code(self) -> str:
        return f"v_{self.pou.name.lower()}"

    def assignment(self, s: tf.AssignmentStatement, d: int) -> None:
        e = self.expr(s.expression)
        targets = [self.target(t) for t in s.variables]
        for t in reversed(targets):
            self.emit(d, f"{t.code} = {coerce(e, t.type, self.failer(s))}")

    def target(self, node: Any) -> Expr:
        if isinstance(node, tf.SimpleVariable) and self.is_function and str(node.name).lower() == self.pou.name.lower():
            return Expr(self._ret_code(), self.pou.return_type, assignable=True)
        if not isinstance(node, (tf.SimpleVariable, tf.MultiElementVariable)):
            raise self.fail(node, "left side of := must be a variable")
        root = node.name if isinstance(node, tf.SimpleVariable) else node.name.name
        self.written.add(str(root).lower())
        return self.variable(node, for_write=True)

    def call_statement(self, s: tf.FunctionCallStatement, d: int) -> None:
        name = s.name
        inst = self.variable(name) if isinstance(name, (tf.SimpleVariable, tf.MultiElementVariable)) else None
        if inst is None or not isinstance(inst.type, FbT):
            # a function called for nothing: evaluate (type-check) and drop the result
            if isinstance(name, tf.SimpleVariable) and str(name.name).lower() in self.pou.vars:
                raise self.fail(s, f"{name} is not a function block instance")
            e = self.function_call(s)
            self.emit(d, e.code)
            return
        fbt: FbT = inst.type
        inputs_seen = set()
        outs: list[tuple[Expr, str, Any, bool]] = []
        inouts: list[tuple[Expr, str]] = []
        positional = self._fb_inputs(fbt)
        for i, p in enumerate(s.parameters):
            if isinstance(p, tf.OutputParameterAssignment):
                member = str(p.name.name).lower()
                mtype, section = self.fb_member(fbt, member, p.name)
                if section != "VAR_OUTPUT":
                    raise self.fail(p, f"{p.name.name} is not an output of {fbt.name}")
                if p.value is None:
                    continue
                tgt = self.target(p.value)
                outs.append((tgt, member, mtype, bool(p.inverted)))
                continue
            if p.name is None:
                if i >= len(positional):
                    raise self.fail(s, f"too many arguments for {fbt.name}")
                member = positional[i]
            else:
                member = str(p.name.name).lower()
            mtype, section = self.fb_member(fbt, member, p.name or s)
            if section not in ("VAR_INPUT", "VAR_IN_OUT"):
                raise self.fail(p, f"{member.upper()} is not an input of {fbt.name}")
            if member in inputs_seen:
                raise self.fail(p, f"input {member.upper()} given twice")
            inputs_seen.add(member)
            if p.value is None:
                continue
            if section == "VAR_IN_OUT":
                actual = self.target(p.value)
                if actual.type != mtype:
                    raise self.fail(p, f"VAR_IN_OUT {member.upper()} needs a {type_name(mtype)} variable")
                # copy-in/copy-out: equal to by-reference for a single, non-aliased caller
                self.emit(d, f"{inst.code}.v_{member} = {actual.code}")
                inouts.append((actual, member))
                continue
            e = self.expr(p.value)
            self.emit(d, f"{inst.code}.v_{member} = {coerce(e, mtype, self.failer(p), f'input {member.upper()}')}")
        self.emit(d, f"{inst.code}()")
        for actual, member in inouts:
            self.emit(d, f"{actual.code} = {inst.code}.v_{member}")
        for tgt, member, mtype, inverted in outs:
            src = Expr(f"{inst.code}.v_{member}", mtype)
            if inverted:
                src = Expr(f"(not {src.code})", BOOL)
            self.emit(d, f"{tgt.code} = {coerce(src, tgt.type, self.failer(s))}")

    def _fb_inputs(self, fbt: FbT) -> list[str]:
        if fbt.name in STANDARD_FBS:
            return [n.lower() for n, _t, s in STANDARD_FBS[fbt.name].MEMBERS if s == "VAR_INPUT"]
        return [v.key for v in self.pous[fbt.name].ordered("VAR_INPUT", "VAR_IN_OUT")]

    def cond(self, node: Any) -> str:
        e = self.expr(node)
        if e.type.kind != "bool":
            raise self.fail(node, f"condition must be BOOL, got {type_name(e.type)}")
        return e.code

    def if_statement(self, s: tf.IfStatement, d: int) -> None:
        self.emit(d, f"if {self.cond(s.if_expression)}:")
        self.block(s.statements, d + 1)
        for eif in s.else_ifs:
            self.emit(d, f"elif {self.cond(eif.if_expression)}:")
            self.block(eif.statements, d + 1)
        if s.else_clause is not None:
            self.emit(d, "else:")
            self.block(s.else_clause.statements, d + 1)

    def case_statement(self, s: tf.CaseStatement, d: int) -> None:
        sel = self.expr(s.expression)
        if not is_int(sel.type):
            raise self.fail(s, f"CASE selector must be an integer, got {type_name(sel.type)}")
        var = self.tmp("case")
        self.emit(d, f"{var} = {sel.code}")
        seen: set[int] = set()
        first = True
        for el in s.cases:
            conds = []
            for m in el.matches:
                if isinstance(m, tf.PartialSubrange):
                    lo, hi = self._case_const(m.start), self._case_const(m.stop)
                    if lo > hi:
                        raise self.fail(el, f"empty CASE range {lo}..{hi}")
                    conds.append(f"{lo} <= {var} <= {hi}")
                    labels = set(range(lo, hi + 1)) if hi - lo < 100_000 else set()
                else:
                    v = self._case_const(m)
                    conds.append(f"{var} == {v}")
                    labels = {v}
                if labels & seen:
                    raise self.fail(el, f"CASE label {sorted(labels & seen)[0]} appears twice")
                seen |= labels
            self.emit(d, f"{'if' if first else 'elif'} {' or '.join(conds)}:")
            first = False
            self.block(el.statements, d + 1)
        if s.else_clause is not None:
            if first:
                self.emit(d, "if True:")
            else:
                self.emit(d, "else:")
            self.block(s.else_clause.statements, d + 1)

    def _case_const(self, node: Any) -> int:
        e = self.expr(node)
        if e.const is None or not isinstance(e.const, int) or isinstance(e.const, bool):
            raise self.fail(node, "CASE labels must be integer constants")
        return e.const

    def for_statement(self, s: tf.ForStatement, d: int) -> None:
        ctl = self.target(s.control)
        if not is_int(ctl.type):
            raise self.fail(s, f"FOR control variable must be an integer, got {type_name(ctl.type)}")
        start = self.expr(s.from_)
        stop = self.expr(s.to)
        step = self.expr(s.step) if s.step is not None else Expr("1", ANY_INT, 1)
        for e, what in ((start, "start"), (stop, "end"), (step, "step")):
            if not is_int(e.type):
                raise self.fail(s, f"FOR {what} must be an integer, got {type_name(e.type)}")
        if step.const == 0:
            raise self.fail(s, "FOR step must not be 0")
        end, by, n, first = self.tmp("end"), self.tmp("by"), self.tmp("n"), self.tmp("first")
        self.emit(d, f"{ctl.code} = {coerce(start, ctl.type, self.failer(s))}")
        self.emit(d, f"{end} = {stop.code}")
        self.emit(d, f"{by} = {step.code}")
        self.emit(d, f"{n} = 0")
        self.emit(d, f"{first} = True")
        # increment at the top so that CONTINUE still advances the control variable
        self.emit(d, "while True:")
        self.emit(d + 1, f"if {first}: {first} = False")
        self.emit(d + 1, f"else: {ctl.code} = {wrap_code(f'{ctl.code} + {by}', ctl.type)}")
        if step.const is not None:
            cmp = ">" if step.const > 0 else "<"
            self.emit(d + 1, f"if {ctl.code} {cmp} {end}: break")
        else:
            self.emit(d + 1, f"if (({ctl.code} > {end}) if {by} > 0 else ({ctl.code} < {end})): break")
        self._loop_body(s, d, n)

    def _loop_body(self, s: Any, d: int, n: str) -> None:
        self.emit(d + 1, f"{n} += 1")
        self.emit(d + 1, f"if {n} > _LOOP_LIMIT: _wd({self.where(s)!r})")
        self._loop_depth += 1
        try:
            self.block(s.statements, d + 1)
        finally:
            self._loop_depth -= 1

    def loop(self, s: Any, d: int, pre: Any = None, post: Any = None) -> None:
        n = self.tmp("n")
        self.emit(d, f"{n} = 0")
        self.emit(d, f"while {self.cond(pre) if pre is not None else 'True'}:")
        self._loop_body(s, d, n)
        if post is not None:
            self.emit(d + 1, f"if {self.cond(post)}: break")


