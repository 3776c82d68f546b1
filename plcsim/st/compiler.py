"""Compile an ST source file to Python: parse (blark) -> declarations -> checked codegen.

The result, ``CompiledProgram``, creates program instances, exposes their
variables as tags (with fast getters/setters), and dumps/loads their whole
state for snapshots and online change.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable

from blark import transform as tf

from ..iec_types import ELEMENTARY, IecType, to_f32
from ..tags import Location, LocationError, TagInfo
from . import rt_helpers
from .codegen import PouCodegen
from .errors import PlcRuntimeError, StCompileError, StError
from .expressions import Expr, coerce, literal
from .parser import StSyntaxError, parse
from .stdlib_fb import STANDARD_FBS, StdFb
from .symbols import SECTIONS, ArrayT, FbT, Pou, Var, pos

__all__ = ["CompiledProgram", "compile_source", "compile_file", "StCompileError", "StError", "PlcRuntimeError"]

_POU_KINDS = {tf.Program: "PROGRAM", tf.FunctionBlock: "FUNCTION_BLOCK", tf.Function: "FUNCTION"}


class CompiledProgram:
    """One PROGRAM (with the FBs and functions it uses), ready to instantiate."""

    def __init__(self, name: str, source: str, filename: str, py_source: str, namespace: dict,
                 pous: dict[str, Pou], tags: list[TagInfo]) -> None:
        self.name = name
        self.source = source
        self.filename = filename
        self.hash = hashlib.sha256(source.encode()).hexdigest()
        self.python_source = py_source
        self._ns = namespace
        self._cls = namespace[f"PRG_{name.upper()}"]
        self.pous = pous
        self.tags = tags
        self.getters: dict[str, Callable[[Any], Any]] = {}
        self.setters: dict[str, Callable[[Any, Any], None]] = {}
        for t in tags:
            attrs = _attr_path(t.path)
            self.getters[t.path.lower()] = _getter(attrs, t.is_array)
            self.setters[t.path.lower()] = _setter(attrs, t.is_array)

    timer_paths: list[str] = []
    reads_timer_et = False

    def new_instance(self, rt: Any) -> Any:
        return self._cls(rt)

    @staticmethod
    def state_key(inst: Any) -> tuple:
        """A comparable value of everything that can influence a later scan."""
        return inst._key()

    def next_timer_event(self, inst: Any) -> int | None:
        """The earliest time a running timer changes its Q by itself (None: no timer runs)."""
        best = None
        for get in self._timer_getters:
            t = get(inst).next_event_ms()
            if t is not None and (best is None or t < best):
                best = t
        return best

    @property
    def _timer_getters(self):
        g = self.__dict__.get("_tg")
        if g is None:
            g = self.__dict__["_tg"] = [attrgetter(p) for p in self.timer_paths]
        return g

    @staticmethod
    def execute(inst: Any) -> None:
        try:
            inst()
        except PlcRuntimeError:
            raise
        except RecursionError:
            raise PlcRuntimeError("stack overflow (recursive calls)") from None
        except (ArithmeticError, ValueError, TypeError) as exc:  # last line of defence: fault, never crash
            raise PlcRuntimeError(f"runtime error: {exc}") from None

    # ----------------------------------------------------------- state I/O
    def dump_state(self, inst: Any) -> dict:
        return _dump(inst)

    def load_state(self, inst: Any, state: dict) -> None:
        _load(inst, state)

    def carry_over(self, old_prog: "CompiledProgram", old: Any, new: Any) -> None:
        """Online change: copy values whose path and type are unchanged (CONSTANTs take the new value)."""
        _carry(old, new)


# --------------------------------------------------------------------- state

def _state_slots(obj: Any) -> tuple[str, ...]:
    return obj._STATE if not isinstance(obj, StdFb) else tuple(obj.state_slots())


def _dump(obj: Any) -> dict:
    out = {}
    for slot in _state_slots(obj):
        v = getattr(obj, slot)
        if isinstance(v, list):
            out[slot] = list(v)
        elif hasattr(v, "_rt"):
            out[slot] = _dump(v)
        else:
            out[slot] = v
    return out


def _load(obj: Any, state: dict) -> None:
    for slot in _state_slots(obj):
        if slot not in state:
            continue
        cur = getattr(obj, slot)
        if hasattr(cur, "_rt"):
            _load(cur, state[slot])
        elif isinstance(cur, list):
            setattr(obj, slot, list(state[slot]))
        else:
            setattr(obj, slot, state[slot])


def _sigs(obj: Any) -> dict[str, str]:
    if isinstance(obj, StdFb):
        return {s: f"{type(obj).__name__}:{s}" for s in obj.state_slots()}
    return obj._SIGS


def _carry(old: Any, new: Any) -> None:
    old_sigs, new_sigs = _sigs(old), _sigs(new)
    consts = getattr(new, "_CONSTS", ())
    for slot, sig in new_sigs.items():
        if slot in consts or old_sigs.get(slot) != sig:
            continue
        v = getattr(old, slot)
        if hasattr(v, "_rt"):
            _carry(v, getattr(new, slot))
        else:
            setattr(new, slot, list(v) if isinstance(v, list) else v)


def _attr_path(path: str) -> list[str]:
    return ["v_" + p.lower() for p in path.split(".")[1:]]


def _getter(attrs: list[str], is_array: bool) -> Callable[[Any], Any]:
    g = attrgetter(".".join(attrs))
    if is_array:
        return lambda inst: list(g(inst))
    return g


def _setter(attrs: list[str], is_array: bool) -> Callable[[Any, Any], None]:
    last = attrs[-1]
    parent = attrgetter(".".join(attrs[:-1])) if len(attrs) > 1 else (lambda inst: inst)
    if is_array:
        return lambda inst, v: setattr(parent(inst), last, list(v))
    return lambda inst, v: setattr(parent(inst), last, v)


# ------------------------------------------------------------------ compiler

class _Compiler:
    def __init__(self, source: str, filename: str) -> None:
        self.source, self.filename = source, filename
        self.errors: list[StError] = []
        self.pous: dict[str, Pou] = {}
        self.reads_timer_et = False        # does any POU read a timer's ET (then ET is idle-key state)
        self.latched_only: set[str] = set()  # program inputs never assigned (left out of the idle key)

    def err(self, node: Any, msg: str) -> StError:
        line, col = pos(node)
        return StError(self.filename, line, col, msg)

    def run(self, program: str | None) -> CompiledProgram:
        try:
            tree = parse(self.source)
        except StSyntaxError as exc:
            raise StCompileError([StError(self.filename, exc.line, exc.column, exc.message)]) from None
        self.collect(tree)
        if self.errors:
            raise StCompileError(self.errors)
        programs = [p for p in self.pous.values() if p.kind == "PROGRAM"]
        if program is not None:
            programs = [p for p in programs if p.name.lower() == program.lower()]
            if not programs:
                raise StCompileError([StError(self.filename, 1, 1, f"no PROGRAM named {program}")])
        if not programs:
            raise StCompileError([StError(self.filename, 1, 1, "no PROGRAM found (a PLC needs exactly one)")])
        if len(programs) > 1:
            names = ", ".join(p.name for p in programs)
            raise StCompileError([StError(self.filename, programs[1].line, 1,
                                          f"several PROGRAMs ({names}); choose one")])
        for pou in list(self.pous.values()):
            self.declare(pou)
        self.check_recursion()
        if self.errors:
            raise StCompileError(self.errors)
        py = self.generate()
        if self.errors:
            raise StCompileError(self.errors)
        ns = dict(rt_helpers.HELPERS)
        ns.update(STANDARD_FBS)
        exec(compile(py, f"<st:{self.filename}>", "exec"), ns)  # noqa: S102 - our own generated code
        prog = programs[0]
        cp = CompiledProgram(prog.name, self.source, self.filename, py, ns, self.pous, self.tags(prog))
        cp.timer_paths = self.timer_paths(prog, [])
        cp.reads_timer_et = self.reads_timer_et
        return cp

    def timer_paths(self, pou: Pou, prefix: list[str]) -> list[str]:
        """Attribute paths of every standard timer instance under this POU."""
        out = []
        for v in pou.vars.values():
            if isinstance(v.type, FbT):
                if v.type.name in ("TON", "TOF", "TP"):
                    out.append(".".join(prefix + [v.attr]))
                elif v.type.name in self.pous:
                    out += self.timer_paths(self.pous[v.type.name], prefix + [v.attr])
        return out

    # ----------------------------------------------------------------- POUs
    def collect(self, tree: tf.SourceCode) -> None:
        for item in tree.items:
            kind = _POU_KINDS.get(type(item))
            if kind is None:
                what = type(item).__name__
                hint = " (declare variables inside the PROGRAM)" if "Global" in what else ""
                self.errors.append(self.err(item, f"unsupported declaration {what}{hint}"))
                continue
            name = str(item.name)
            key = name.upper()
            if key in STANDARD_FBS or key in ELEMENTARY:
                self.errors.append(self.err(item, f"{name} redefines a standard name"))
                continue
            if key in self.pous:
                self.errors.append(self.err(item, f"{name} is declared twice"))
                continue
            if kind == "FUNCTION_BLOCK" and (item.extends or item.implements):
                self.errors.append(self.err(item, f"{name}: EXTENDS/IMPLEMENTS are not supported"))
            line, _ = pos(item)
            self.pous[key] = Pou(kind, name, item, line)

    def declare(self, pou: Pou) -> None:
        node = pou.node
        if pou.kind == "FUNCTION":
            rt = self.resolve_type(node.return_type, node) if node.return_type is not None else None
            if not isinstance(rt, IecType):
                self.errors.append(self.err(node, f"function {pou.name} needs an elementary return type"))
                return
            pou.return_type = rt
        for block in node.declarations:
            section = SECTIONS.get(type(block))
            if section is None:
                self.errors.append(self.err(block, f"unsupported variable section {getattr(block, 'block_header', type(block).__name__)}"))
                continue
            attrs = getattr(block, "attrs", None)
            flags = str(attrs).upper() if attrs else ""
            constant = "CONSTANT" in flags
            retain = "RETAIN" in flags or "PERSISTENT" in flags
            if pou.kind == "FUNCTION" and section in ("VAR_OUTPUT", "VAR_IN_OUT"):
                self.errors.append(self.err(block, f"{section} in a FUNCTION is not supported; return a value"))
                continue
            for decl in block.items:
                try:
                    self.declare_item(pou, decl, section, constant, retain)
                except StError as exc:
                    self.errors.append(exc)

    def declare_item(self, pou: Pou, decl: Any, section: str, constant: bool, retain: bool) -> None:
        if isinstance(decl, tf.LocatedVariableDeclaration):
            # a VAR block holding only located variables: same shape as a one-variable declaration
            decl = tf.VariableOneInitDeclaration(
                variables=[tf.DeclaredVariable(variable=decl.name, location=decl.location, meta=decl.meta)],
                init=decl.init, meta=decl.meta)
        if isinstance(decl, (tf.VariableOneInitDeclaration, tf.ArrayVariableInitDeclaration)):
            spec = decl.init
            if isinstance(spec, tf.ArrayTypeInitialization):
                typ = self.array_type(spec.spec, decl)
            elif isinstance(spec, tf.TypeInitialization):
                typ = self.resolve_type(spec.spec, decl)
            else:
                raise self.err(decl, f"unsupported type specification {type(spec).__name__}")
            init = getattr(spec, "value", None)
            for dv in decl.variables:
                self.add_var(pou, dv, typ, section, constant, retain, init)
        elif isinstance(decl, tf.FunctionBlockNameDeclaration):
            typ = self.fb_type(str(decl.spec), decl)
            if decl.init is not None:
                raise self.err(decl, "initialising function block instances is not supported")
            for name in decl.variables:
                self.add_var(pou, name, typ, section, constant, retain, None)
        elif isinstance(decl, tf.EdgeDeclaration):
            raise self.err(decl, "R_EDGE/F_EDGE inputs are not supported; use R_TRIG/F_TRIG")
        else:
            raise self.err(decl, f"unsupported declaration {type(decl).__name__}")

    def add_var(self, pou: Pou, dv: Any, typ: Any, section: str, constant: bool, retain: bool, init: Any) -> None:
        if isinstance(dv, tf.DeclaredVariable):
            name_tok, loc_node = dv.variable.name, dv.location
        else:
            name_tok, loc_node = dv, None
        name = str(name_tok)
        line, col = pos(name_tok) if getattr(name_tok, "line", None) else pos(dv)
        if name.lower() in pou.vars:
            raise StError(self.filename, line, col, f"variable {name} is declared twice in {pou.name}")
        if pou.kind == "FUNCTION" and name.lower() == pou.name.lower():
            raise StError(self.filename, line, col, f"variable {name} hides the function's return value")
        location = None
        if loc_node is not None:
            if pou.kind != "PROGRAM":
                raise StError(self.filename, line, col, "located variables (AT %...) are only allowed in a PROGRAM")
            text = str(loc_node).replace("AT", "").strip() if not str(loc_node).startswith("%") else str(loc_node)
            try:
                location = Location.parse(text)
            except LocationError as exc:
                raise StError(self.filename, line, col, str(exc)) from None
            why = location.check_type(typ) if isinstance(typ, IecType) else f"{location} needs an elementary type"
            if why:
                raise StError(self.filename, line, col, why)
        if isinstance(typ, FbT):
            if constant:
                raise StError(self.filename, line, col, "a function block instance cannot be CONSTANT")
            if pou.kind == "FUNCTION":
                raise StError(self.filename, line, col, "functions cannot hold function block instances")
        if constant and init is None and isinstance(typ, IecType):
            raise StError(self.filename, line, col, f"CONSTANT {name} needs an initial value")
        pou.vars[name.lower()] = Var(name, typ, section, line, col, retain, constant, location, init)

    # ---------------------------------------------------------------- types
    def resolve_type(self, spec: Any, node: Any) -> Any:
        if isinstance(spec, tf.SimpleSpecification):
            spec = spec.type
        name = str(spec.type_name if isinstance(spec, tf.DataType) else spec).upper()
        t = ELEMENTARY.get(name)
        if t is not None:
            return t
        if name in ("STRING", "WSTRING", "DATE", "TOD", "TIME_OF_DAY", "DT", "DATE_AND_TIME", "LTIME"):
            raise self.err(node, f"type {name} is not supported")
        return self.fb_type(name, node)

    def fb_type(self, name: str, node: Any) -> FbT:
        key = name.upper()
        if key in STANDARD_FBS or (key in self.pous and self.pous[key].kind == "FUNCTION_BLOCK"):
            return FbT(key)
        raise self.err(node, f"unknown type {name}")

    def array_type(self, spec: tf.ArraySpecification, node: Any) -> ArrayT:
        dims = []
        for sr in spec.subranges:
            if not isinstance(sr, tf.PartialSubrange):
                raise self.err(node, "arrays need explicit bounds [lo..hi]")
            lo, hi = self.const_int(sr.start, node), self.const_int(sr.stop, node)
            if lo > hi:
                raise self.err(node, f"array bounds {lo}..{hi} are empty")
            dims.append((lo, hi))
        elem = self.resolve_type(spec.type, node)
        if not isinstance(elem, IecType):
            raise self.err(node, "arrays of function blocks are not supported")
        t = ArrayT(elem, tuple(dims))
        if t.length > 65536:
            raise self.err(node, f"array of {t.length} elements is too large (max 65536)")
        return t

    def const_int(self, node: Any, where: Any) -> int:
        e = self.const_expr(node, where)
        if not isinstance(e.const, int) or isinstance(e.const, bool):
            raise self.err(where, "array bounds must be integer constants")
        return e.const

    def const_expr(self, node: Any, where: Any) -> Expr:
        if isinstance(node, tf.UnaryOperation) and str(node.op) == "-":
            e = self.const_expr(node.expr, where)
            return Expr(repr(-e.const), e.type, -e.const)
        return literal(node, lambda msg: self.err(where, msg))

    def check_recursion(self) -> None:
        def visit(key: str, stack: list[str]) -> None:
            if key in stack:
                pou = self.pous[key]
                raise self.err(pou.node, f"function block {pou.name} contains itself ({' -> '.join(stack + [key])})")
            for v in self.pous[key].vars.values():
                if isinstance(v.type, FbT) and v.type.name in self.pous:
                    visit(v.type.name, stack + [key])

        for key, pou in self.pous.items():
            if pou.kind != "FUNCTION":
                try:
                    visit(key, [])
                except StError as exc:
                    self.errors.append(exc)
                    return

    # ------------------------------------------------------------- codegen
    def generate(self) -> str:
        out = ["# generated by plcsim from " + self.filename]
        bodies = []
        for pou in self.pous.values():
            gen = PouCodegen(pou, self.pous, self.filename)
            init_lines = self.init_lines(pou, gen)
            gen.block(pou.node.body, 2 if pou.kind != "FUNCTION" else 1)
            self.errors.extend(gen.errors)
            self.reads_timer_et = self.reads_timer_et or gen.reads_timer_et
            bodies.append((pou, init_lines, gen.lines))
            if pou.kind == "PROGRAM":
                # physical inputs the program never assigns: a scan that changed only these
                # computed its result from them already, so the next scan repeats it exactly
                self.latched_only = {v.key for v in pou.vars.values()
                                     if v.location is not None and v.location.is_input and v.key not in gen.written}
        for pou, init_lines, lines in bodies:
            if pou.kind == "FUNCTION":
                out.append(self.function_source(pou, init_lines, lines))
            else:
                out.append(self.class_source(pou, init_lines, lines))
        return "\n\n".join(out) + "\n"

    def key_source(self, pou: Pou, inits: list[tuple[Var, str]]) -> list[str]:
        """_key(): the state that can influence later scans, as one comparable tuple."""
        parts = []
        skip = self.latched_only if pou.kind == "PROGRAM" else set()
        for v, _ in inits:
            if v.constant or v.key in skip:
                continue
            if isinstance(v.type, FbT):
                no_et = v.type.name in STANDARD_FBS and not self.reads_timer_et
                parts.append(f"self.{v.attr}.{'_key_no_et' if no_et else '_key'}()")
            elif isinstance(v.type, ArrayT):
                parts.append(f"tuple(self.{v.attr})")
            else:
                parts.append(f"self.{v.attr}")
        return ["", "    def _key(self):", f"        return ({', '.join(parts)}{',' if len(parts) == 1 else ''})"]

    def init_value(self, v: Var, gen: PouCodegen) -> str:
        t = v.type
        if isinstance(t, FbT):
            return f"{t.name}(rt)" if t.name in STANDARD_FBS else f"FB_{t.name}(rt)"
        if isinstance(t, ArrayT):
            return repr(self.array_init(v, gen))
        if v.init is None:
            return repr(t.default())
        e = self.init_expr(v, gen)
        return coerce(e, t, lambda msg: StError(self.filename, v.line, v.column, msg), f"initial value of {v.name}")

    def init_expr(self, v: Var, gen: PouCodegen) -> Expr:
        e = gen.expr(v.init)
        if e.const is None:
            raise StError(self.filename, v.line, v.column, f"initial value of {v.name} must be a constant")
        return e

    def array_init(self, v: Var, gen: PouCodegen) -> list:
        t: ArrayT = v.type
        values = [t.elem.default()] * t.length
        if v.init is None:
            return values
        flat: list[Any] = []

        def walk(init: Any) -> None:
            for el in init.elements:
                count = 1
                if el.count is not None:
                    count = int(str(el.count.value if hasattr(el.count, "value") else el.count))
                if isinstance(el.element, tf.ArrayInitialization):
                    for _ in range(count):
                        walk(el.element)
                    continue
                e = gen.expr(el.element)
                if e.const is None:
                    raise StError(self.filename, v.line, v.column, f"initial values of {v.name} must be constants")
                code = coerce(e, t.elem, lambda msg: StError(self.filename, v.line, v.column, msg),
                              f"initial value of {v.name}")
                flat.extend([_eval_const(code)] * count)

        if not isinstance(v.init, tf.ArrayInitialization):
            raise StError(self.filename, v.line, v.column, f"{v.name} needs an array initialiser [a, b, ...]")
        walk(v.init)
        if len(flat) > t.length:
            raise StError(self.filename, v.line, v.column,
                          f"{len(flat)} initial values for {v.name}, which has {t.length} elements")
        values[:len(flat)] = flat
        return values

    def init_lines(self, pou: Pou, gen: PouCodegen) -> list[tuple[Var, str]]:
        lines = []
        for v in pou.vars.values():
            try:
                lines.append((v, self.init_value(v, gen)))
            except StError as exc:
                self.errors.append(exc)
        return lines

    def class_source(self, pou: Pou, inits: list[tuple[Var, str]], body: list[str]) -> str:
        cls = f"{'PRG' if pou.kind == 'PROGRAM' else 'FB'}_{pou.key}"
        slots = tuple(v.attr for v, _ in inits)
        sigs = {v.attr: _sig(v) for v, _ in inits}
        consts = tuple(v.attr for v, _ in inits if v.constant)
        src = [f"class {cls}:",
               f"    __slots__ = {('_rt',) + slots!r}",
               f"    _STATE = {slots!r}",
               f"    _SIGS = {sigs!r}",
               f"    _CONSTS = {consts!r}",
               "",
               "    def __init__(self, rt):",
               "        self._rt = rt"]
        src += [f"        self.{v.attr} = {code}" for v, code in inits]
        src += self.key_source(pou, inits)
        src += ["", "    def __call__(self):"]
        src += body
        return "\n".join(src)

    def function_source(self, pou: Pou, inits: list[tuple[Var, str]], body: list[str]) -> str:
        inputs = [v for v, _ in inits if v.section == "VAR_INPUT"]
        args = ", ".join(f"{v.attr}=None" for v in inputs)
        src = [f"def F_{pou.key}({args}):"]
        for v, code in inits:
            if v.section == "VAR_INPUT":
                src.append(f"    if {v.attr} is None: {v.attr} = {code}")
            else:
                src.append(f"    {v.attr} = {code}")
        src.append(f"    v_{pou.name.lower()} = {pou.return_type.default()!r}")
        src += body
        src.append(f"    return v_{pou.name.lower()}")
        return "\n".join(src)

    # ----------------------------------------------------------------- tags
    def tags(self, prog: Pou) -> list[TagInfo]:
        out: list[TagInfo] = []
        for v in prog.vars.values():
            self._tags_of(f"{prog.name}.{v.name}", v.type, v.section, not v.constant, v.retain, v.constant,
                          v.location, None, out)
        return out

    def _tags_of(self, path: str, t: Any, section: str, writable: bool, retain: bool, constant: bool,
                 location: Location | None, fb_type: str | None, out: list[TagInfo]) -> None:
        if isinstance(t, IecType):
            out.append(TagInfo(path, t, section, writable, retain, constant, location, None, fb_type))
        elif isinstance(t, ArrayT):
            out.append(TagInfo(path, t.elem, section, writable, retain, constant, None, t.dims, fb_type))
        elif t.name in STANDARD_FBS:
            for n, mt, msec in STANDARD_FBS[t.name].MEMBERS:
                self._tags_of(f"{path}.{n}", mt, msec, msec == "VAR_INPUT", retain, False, None, t.name, out)
        else:
            for v in self.pous[t.name].vars.values():
                self._tags_of(f"{path}.{v.name}", v.type, v.section,
                              v.section == "VAR_INPUT" and not v.constant, retain or v.retain, v.constant,
                              None, t.name, out)


def _sig(v: Var) -> str:
    t = v.type
    return f"FB:{t.name}" if isinstance(t, FbT) else t.name


def _eval_const(code: str) -> Any:
    return eval(code, {"_f32": to_f32})  # noqa: S307 - a literal we generated


@lru_cache(maxsize=64)
def _compile_cached(source: str, filename: str, program: str | None) -> CompiledProgram:
    return _Compiler(source, filename).run(program)


def compile_source(source: str, filename: str = "<string>", program: str | None = None) -> CompiledProgram:
    """Compile ST source; raise StCompileError listing every located error."""
    return _compile_cached(source, filename, program)


def compile_file(path: str | Path, program: str | None = None) -> CompiledProgram:
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StCompileError([StError(str(path), 0, 0, f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise StCompileError([StError(str(path), 1, 1, f"not UTF-8 text: {exc.reason}")]) from None
    return compile_source(source, str(path), program)
