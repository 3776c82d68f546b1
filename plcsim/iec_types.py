"""IEC 61131-3 elementary data types: sizes, ranges and value normalisation.

Every value the runtime stores is normalised by its type: integers wrap as
two's complement (or modulo 2**n when unsigned), REAL is rounded to 32-bit
IEEE 754, TIME is an integer number of milliseconds.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

_F32 = struct.Struct("<f")


def to_f32(x: float) -> float:
    """Round a Python float to the nearest IEEE 754 binary32 value."""
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


@dataclass(frozen=True)
class IecType:
    name: str
    kind: str  # "bool" | "int" | "real" | "time"
    bits: int
    signed: bool = False
    # OPC UA built-in DataType name (asyncua.ua.VariantType member)
    opcua: str = ""

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def registers(self) -> int:
        """How many 16-bit Modbus registers one value of this type occupies."""
        return max(1, self.bits // 16)

    def default(self) -> Any:
        return {"bool": False, "int": 0, "real": 0.0, "time": 0}[self.kind]

    def normalise(self, value: Any) -> Any:
        """Coerce a value into this type's domain (wrap, round)."""
        if self.kind == "bool":
            return bool(value)
        if self.kind == "real":
            v = float(value)
            return to_f32(v) if self.bits == 32 else v
        v = int(value)
        if self.kind == "time":
            return wrap_int(v, 64, True)
        return wrap_int(v, self.bits, self.signed)

    def accepts(self, value: Any) -> bool:
        """True if a value written from outside (protocol, API) fits this type without loss."""
        if self.kind == "bool":
            return isinstance(value, bool) or value in (0, 1)
        if self.kind == "real":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                return False
        if self.kind == "time":
            return -(1 << 63) <= value < (1 << 63)
        return self.min <= value <= self.max


def wrap_int(v: int, bits: int, signed: bool) -> int:
    mask = (1 << bits) - 1
    v &= mask
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


_TYPES = [
    IecType("BOOL", "bool", 1, opcua="Boolean"),
    IecType("SINT", "int", 8, True, "SByte"),
    IecType("INT", "int", 16, True, "Int16"),
    IecType("DINT", "int", 32, True, "Int32"),
    IecType("LINT", "int", 64, True, "Int64"),
    IecType("USINT", "int", 8, False, "Byte"),
    IecType("UINT", "int", 16, False, "UInt16"),
    IecType("UDINT", "int", 32, False, "UInt32"),
    IecType("ULINT", "int", 64, False, "UInt64"),
    IecType("BYTE", "int", 8, False, "Byte"),
    IecType("WORD", "int", 16, False, "UInt16"),
    IecType("DWORD", "int", 32, False, "UInt32"),
    IecType("LWORD", "int", 64, False, "UInt64"),
    IecType("REAL", "real", 32, True, "Float"),
    IecType("LREAL", "real", 64, True, "Double"),
    # TIME is kept in milliseconds; on the wire it is a signed 64-bit duration
    # (OPC UA Duration is a Double in ms; we expose Int64 ms, documented).
    IecType("TIME", "time", 64, True, "Int64"),
]

ELEMENTARY: dict[str, IecType] = {t.name: t for t in _TYPES}
BIT_STRINGS = frozenset({"BYTE", "WORD", "DWORD", "LWORD"})
INTEGERS = frozenset(t.name for t in _TYPES if t.kind == "int")


def lookup(name: str) -> IecType | None:
    return ELEMENTARY.get(name.upper())


def encode_registers(t: IecType, value: Any) -> list[int]:
    """Encode a value as 16-bit Modbus registers, high word first."""
    if t.kind == "bool":
        return [1 if value else 0]
    if t.kind == "real":
        raw = struct.pack(">f" if t.bits == 32 else ">d", value)
    else:
        raw = (int(value) & ((1 << t.bits) - 1)).to_bytes(max(2, t.bits // 8), "big")
    return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]


def decode_registers(t: IecType, regs: list[int]) -> Any:
    """Inverse of encode_registers."""
    if t.kind == "bool":
        return bool(regs[0])
    raw = b"".join(r.to_bytes(2, "big") for r in regs)
    if t.kind == "real":
        return struct.unpack(">f" if t.bits == 32 else ">d", raw)[0]
    v = int.from_bytes(raw, "big")
    if t.bits == 8:
        v &= 0xFF
    return t.normalise(wrap_int(v, max(16, t.bits), t.signed) if t.bits >= 16 else v)
