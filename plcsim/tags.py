"""Tags: the variables of a loaded program as seen from outside.

A tag path is ``<PROGRAM>.<var>`` or, for members of function-block
instances, ``<PROGRAM>.<inst>.<member>`` (the OPC UA NodeId string too).
Lookups are case-insensitive, as ST identifiers are.

Located variables map to Modbus tables the way OpenPLC maps them:

===========  =================  =========================================
location     Modbus table       address
===========  =================  =========================================
%IX b.x      discrete inputs    8*b + x
%QX b.x      coils              8*b + x
%IW n        input registers    n
%QW n        holding registers  n
%MW n        holding registers  1024 + n
%MD n        holding registers  2048 + 2n, two registers, high word first
===========  =================  =========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .iec_types import IecType

COILS = "coils"
DISCRETE_INPUTS = "discrete_inputs"
HOLDING = "holding_registers"
INPUT_REGISTERS = "input_registers"

MW_BASE = 1024
MD_BASE = 2048

_LOC_RE = re.compile(r"^%([IQM])([XWD])(\d+)(?:\.(\d+))?$", re.IGNORECASE)


class LocationError(ValueError):
    pass


@dataclass(frozen=True)
class Location:
    area: str  # I, Q, M
    size: str  # X (bit), W (16-bit word), D (32-bit double word)
    index: int
    bit: int | None = None

    @classmethod
    def parse(cls, text: str) -> "Location":
        m = _LOC_RE.match(text.strip())
        if not m:
            raise LocationError(f"unsupported location {text!r}; use %IX, %QX, %IW, %QW, %MW or %MD")
        area, size, index, bit = m.group(1).upper(), m.group(2).upper(), int(m.group(3)), m.group(4)
        if int(index) > 1023:
            raise LocationError(f"{text!r}: index out of range; the Modbus mapping holds 0..1023")
        if size == "X":
            if bit is None or not 0 <= int(bit) <= 7:
                raise LocationError(f"bit location {text!r} needs a bit number 0..7 (e.g. %{area}X0.3)")
            if area == "M":
                raise LocationError(f"{text!r}: %MX is not mapped to Modbus; use %MW or %MD")
            return cls(area, size, index, int(bit))
        if bit is not None:
            raise LocationError(f"word location {text!r} takes no bit number")
        if size == "D" and area != "M":
            raise LocationError(f"{text!r}: only %MD is supported for double words")
        return cls(area, size, index, None)

    def __str__(self) -> str:
        suffix = f".{self.bit}" if self.bit is not None else ""
        return f"%{self.area}{self.size}{self.index}{suffix}"

    @property
    def is_input(self) -> bool:
        return self.area == "I"

    @property
    def modbus(self) -> tuple[str, int]:
        """(table, first address) per the OpenPLC mapping."""
        if self.size == "X":
            return (DISCRETE_INPUTS if self.area == "I" else COILS), 8 * self.index + (self.bit or 0)
        if self.area == "I":
            return INPUT_REGISTERS, self.index
        if self.area == "Q":
            return HOLDING, self.index
        if self.size == "W":
            return HOLDING, MW_BASE + self.index
        return HOLDING, MD_BASE + 2 * self.index

    def check_type(self, t: IecType) -> str | None:
        """Why a variable of type t cannot sit at this location, or None."""
        if self.size == "X":
            return None if t.name == "BOOL" else f"{self} is a bit; it needs BOOL, not {t.name}"
        if self.size == "W":
            return None if t.bits == 16 and t.kind == "int" else f"{self} is 16-bit; it needs INT, UINT or WORD, not {t.name}"
        return None if t.bits == 32 and t.kind in ("int", "real") else f"{self} is 32-bit; it needs DINT, UDINT, DWORD or REAL, not {t.name}"


@dataclass(frozen=True)
class TagInfo:
    """One externally visible variable.

    ``type`` is the elementary type; for arrays ``dims`` holds the bounds
    ((lo, hi), ...) and the value is a flat list in row-major order.
    """

    path: str
    type: IecType
    section: str  # VAR, VAR_INPUT, VAR_OUTPUT, VAR_IN_OUT, VAR_GLOBAL
    writable: bool
    retain: bool = False
    constant: bool = False
    location: Location | None = None
    dims: tuple[tuple[int, int], ...] | None = None
    fb_type: str | None = None  # set for members of FB instances: the FB type owning the member

    @property
    def is_array(self) -> bool:
        return self.dims is not None

    @property
    def length(self) -> int:
        n = 1
        for lo, hi in self.dims or ():
            n *= hi - lo + 1
        return n
