"""Declarations -> symbol tables: POUs, variables and their types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from blark import transform as tf

from ..iec_types import IecType
from ..tags import Location

# Untyped literals adapt to the other operand / the assignment target.
ANY_INT = IecType("ANY_INT", "int", 64, True)
ANY_REAL = IecType("ANY_REAL", "real", 64, True)


@dataclass(frozen=True)
class ArrayT:
    elem: IecType
    dims: tuple[tuple[int, int], ...]

    @property
    def length(self) -> int:
        n = 1
        for lo, hi in self.dims:
            n *= hi - lo + 1
        return n

    @property
    def name(self) -> str:
        rng = ", ".join(f"{lo}..{hi}" for lo, hi in self.dims)
        return f"ARRAY[{rng}] OF {self.elem.name}"


@dataclass(frozen=True)
class FbT:
    name: str  # upper-case FB type name

    @property
    def kind(self) -> str:
        return "fb"


SECTIONS = {
    tf.VariableDeclarations: "VAR",
    tf.InputDeclarations: "VAR_INPUT",
    tf.OutputDeclarations: "VAR_OUTPUT",
    tf.InputOutputDeclarations: "VAR_IN_OUT",
    tf.TemporaryVariableDeclarations: "VAR_TEMP",
    tf.LocatedVariableDeclarations: "VAR",
}


@dataclass
class Var:
    name: str  # as declared
    type: Any  # IecType | ArrayT | FbT
    section: str
    line: int
    column: int
    retain: bool = False
    constant: bool = False
    location: Location | None = None
    init: Any = None  # blark expression / ArrayInitialization, compiled later

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def attr(self) -> str:
        return "v_" + self.name.lower()


@dataclass
class Pou:
    kind: str  # PROGRAM | FUNCTION_BLOCK | FUNCTION
    name: str
    node: Any
    line: int
    vars: dict[str, Var] = field(default_factory=dict)
    return_type: IecType | None = None

    @property
    def key(self) -> str:
        return self.name.upper()

    def ordered(self, *sections: str) -> list[Var]:
        return [v for v in self.vars.values() if not sections or v.section in sections]


def pos(node: Any) -> tuple[int, int]:
    """(line, column) of a blark node or lark token; (1, 1) when unknown."""
    meta = getattr(node, "meta", None)
    if meta is not None and getattr(meta, "line", None):
        return meta.line, meta.column or 1
    line = getattr(node, "line", None)
    if line:
        return line, getattr(node, "column", 1) or 1
    return 1, 1
