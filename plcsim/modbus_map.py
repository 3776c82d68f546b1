"""The Modbus address space of one PLC: which variable sits behind which coil or register.

``ModbusMap`` turns a decoded ``ModbusRequest`` into reads and writes of PLC
tags. The socket server and in-process clients (the twin's HMI, historian,
attacker) both come through ``Plc.handle`` to here, so exception codes,
atomicity and read-only rules are decided in exactly one place.

Addresses come from located variables (OpenPLC layout, see ``tags.py``) and
from the config's ``tag_map`` for unlocated ones. An array occupies
consecutive addresses, one element after the other.

Rules (Modbus Application Protocol v1.1b3, section 6 and 7):

* a read inside the table returns 0 for addresses no variable occupies (what
  a real PLC's unused I/O image holds); past the table end it is exception 02;
* a write must land only on writable variables: an address with nothing
  behind it, a CONSTANT, or a config ``read_only`` tag is exception 02;
* a bad quantity or a value the variable cannot hold is exception 03;
* checks run in the order the spec's state diagrams give: quantity and
  context-free value checks (03), then addresses (02), then values that
  depend on the variable (03);
* a multi-register write is validated entirely before anything is written,
  so an error never leaves a half-applied write;
* writing part of a multi-register variable (one half of a %MD) combines the
  new registers with the current value of the others.
"""

from __future__ import annotations

from typing import Any, Callable

from .config import ConfigError, TagMapEntry
from .iec_types import IecType, decode_registers, encode_registers
from .requests import ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, ILLEGAL_FUNCTION, ModbusRequest, ModbusResponse
from .tags import COILS, DISCRETE_INPUTS, HOLDING, INPUT_REGISTERS, TagInfo

# Table sizes a client can address (OpenPLC's); extended when a variable lies beyond.
DEFAULT_SIZES = {COILS: 8192, DISCRETE_INPUTS: 8192, INPUT_REGISTERS: 1024, HOLDING: 4096}
BIT_TABLES = (COILS, DISCRETE_INPUTS)

# Quantity limits per function code (spec section 6)
MAX_READ_BITS = 2000
MAX_READ_REGS = 125
MAX_WRITE_COILS = 1968
MAX_WRITE_REGS = 123
MAX_RW_WRITE_REGS = 121  # FC 23's write part

_READ_TABLE = {1: COILS, 2: DISCRETE_INPUTS, 3: HOLDING, 4: INPUT_REGISTERS}
COIL_ON = 0xFF00

# FC 43 / MEI 14 object ids (spec 6.21)
VENDOR_NAME, PRODUCT_CODE, MAJOR_MINOR_REVISION, VENDOR_URL, PRODUCT_NAME, MODEL_NAME = range(6)

_MISSING = object()


class _Reject(Exception):
    """Internal: abort a request with a Modbus exception code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class MappedVar:
    """One scalar (or one array element) at a Modbus address; ``width`` addresses wide.

    ``encode(value) -> registers`` and ``decode(registers) -> value`` (or
    _MISSING when the registers are no value of the type) are picked once
    here, so a request does no type dispatch per register.
    """

    __slots__ = ("path", "key", "type", "index", "table", "address", "width", "writable", "encode", "decode")

    def __init__(self, tag: TagInfo, index: int | None, table: str, address: int, width: int) -> None:
        self.path = tag.path
        self.key = tag.path.lower()
        self.type: IecType = tag.type
        self.index = index
        self.table = table
        self.address = address
        self.width = width
        # Only coils and holding registers are writable from Modbus at all.
        self.writable = tag.writable and not tag.constant and table in (COILS, HOLDING)
        self.encode, self.decode = _codec(tag.type)

    def __repr__(self) -> str:
        elem = "" if self.index is None else f"[{self.index}]"
        return f"{self.path}{elem}@{self.table}:{self.address}"


class ModbusMap:
    """Built once per installed program (``Plc._install``); ``handle`` serves one request.

    Raises ConfigError when a tag_map entry names no tag, puts a non-BOOL on
    coils or discrete inputs, runs past 65535, or when two variables claim
    the same address.
    """

    def __init__(self, tags: list[TagInfo], tag_map: list[TagMapEntry], *, source: str = "<config>") -> None:
        self._tags = {t.path.lower(): t for t in tags}
        placements: list[tuple[MappedVar, str]] = []
        for t in tags:
            if t.location is not None:
                table, address = t.location.modbus
                placements += self._place(t, table, address, f"{t.path} AT {t.location}")
        for e in tag_map:
            where = f"{source}:{e.line}: tag_map: " if e.line else f"{source}: tag_map: "
            t = self._resolve(e.tag)
            if t is None:
                raise ConfigError(f"{where}unknown tag {e.tag!r}")
            if e.table in BIT_TABLES and t.type.kind != "bool":
                raise ConfigError(f"{where}{t.path} is {t.type.name}; {e.table} hold BOOL only")
            placements += self._place(t, e.table, e.address, f"{t.path} (tag_map line {e.line})")

        self.sizes = dict(DEFAULT_SIZES)
        for var, _ in placements:
            end = var.address + var.width
            if end > 0x10000:
                raise ConfigError(f"{var.path}: {var.table} {var.address}..{end - 1} is past address 65535")
            self.sizes[var.table] = max(self.sizes[var.table], end)
        # One slot per address: (variable, offset inside it) or None. A list
        # indexed by address keeps the per-request cost to a slice.
        self._slots: dict[str, list[tuple[MappedVar, int] | None]] = {t: [None] * n for t, n in self.sizes.items()}
        self._origin: dict[int, str] = {}
        for var, origin in placements:
            slots = self._slots[var.table]
            for off in range(var.width):
                prev = slots[var.address + off]
                if prev is not None:
                    raise ConfigError(f"Modbus {var.table} {var.address + off} is mapped twice: "
                                      f"{self._origin[id(prev[0])]} and {origin}")
                slots[var.address + off] = (var, off)
            self._origin[id(var)] = origin
        self.vars = [v for v, _ in placements]
        self._ro_names: list[str] | None = None
        self._ro: frozenset[str] = frozenset()

    def address_of(self, path: str) -> tuple[str, int] | None:
        """(table, first address) where a scalar tag sits on Modbus (writable tables first), or None."""
        key = path.lower()
        found = [v for v in self.vars if v.key == key and v.index is None]
        found.sort(key=lambda v: (v.table not in (COILS, HOLDING), v.address))
        return (found[0].table, found[0].address) if found else None

    # ----------------------------------------------------------------- build
    def _resolve(self, name: str) -> TagInfo | None:
        """A tag by full path, or by the path without the program name if unique."""
        key = name.lower()
        t = self._tags.get(key)
        if t is not None:
            return t
        hits = [t for p, t in self._tags.items() if p.split(".", 1)[-1] == key]
        return hits[0] if len(hits) == 1 else None

    @staticmethod
    def _place(t: TagInfo, table: str, address: int, origin: str) -> list[tuple[MappedVar, str]]:
        width = 1 if table in BIT_TABLES else t.type.registers
        if t.is_array:
            return [(MappedVar(t, i, table, address + i * width, width), f"{origin}[{i}]") for i in range(t.length)]
        return [(MappedVar(t, None, table, address, width), origin)]

    def _read_only(self, plc: Any) -> frozenset[str]:
        """Lower-case paths of config ``read_only`` tags (re-resolved if the config list changed)."""
        names = plc.config.read_only
        if names != self._ro_names:
            keys = set()
            for n in names:
                t = self._resolve(n)
                if t is not None:
                    keys.add(t.path.lower())
            self._ro_names, self._ro = list(names), frozenset(keys)
        return self._ro

    # --------------------------------------------------------------- requests
    def handle(self, plc: Any, req: ModbusRequest) -> ModbusResponse:
        fc = req.function_code
        try:
            if fc in (1, 2):
                return ModbusResponse(self._read_bits(plc, _READ_TABLE[fc], req.address, req.count))
            if fc in (3, 4):
                return ModbusResponse(self._read_regs(plc, _READ_TABLE[fc], req.address, req.count))
            if fc == 5:
                if len(req.values) != 1:
                    raise _Reject(ILLEGAL_DATA_VALUE)
                v = req.values[0]
                # On the wire only 0xFF00 (ON) and 0x0000 (OFF) are legal; in-process callers may pass a bool.
                if not (isinstance(v, bool) or (isinstance(v, int) and v in (0, COIL_ON))):
                    raise _Reject(ILLEGAL_DATA_VALUE)
                self._apply(plc, self._plan_bits(plc, req.address, (bool(v),), 1))
                return ModbusResponse(req.values)
            if fc == 15:
                self._apply(plc, self._plan_bits(plc, req.address, req.values, MAX_WRITE_COILS))
                return ModbusResponse()
            if fc == 6:
                if len(req.values) != 1:
                    raise _Reject(ILLEGAL_DATA_VALUE)
                self._apply(plc, self._plan_regs(plc, req.address, req.values, 1))
                return ModbusResponse(req.values)
            if fc == 16:
                self._apply(plc, self._plan_regs(plc, req.address, req.values, MAX_WRITE_REGS))
                return ModbusResponse()
            if fc == 23:
                return ModbusResponse(self._read_write(plc, req))
            if fc == 43:
                return ModbusResponse(device_info=self._device_id(plc, req.read_code, req.object_id))
            raise _Reject(ILLEGAL_FUNCTION)
        except _Reject as r:
            return ModbusResponse(exception_code=r.code)

    @staticmethod
    def _value(plc: Any, var: MappedVar, cache: dict[str, Any]) -> Any:
        if var.index is None:
            return plc.read(var.path)
        v = cache.get(var.path, _MISSING)  # an array is read once per request, not once per element
        if v is _MISSING:
            v = cache[var.path] = plc.read(var.path)
        return v[var.index]

    def _check_range(self, table: str, address: int, count: int) -> list:
        slots = self._slots[table]
        if address < 0 or address + count > len(slots):
            raise _Reject(ILLEGAL_DATA_ADDRESS)
        return slots[address:address + count]

    def _read_bits(self, plc: Any, table: str, address: int, count: int) -> tuple[bool, ...]:
        if not 1 <= count <= MAX_READ_BITS:
            raise _Reject(ILLEGAL_DATA_VALUE)
        out = [False] * count
        cache: dict[str, Any] = {}
        for i, s in enumerate(self._check_range(table, address, count)):
            if s is not None:
                out[i] = bool(self._value(plc, s[0], cache))
        return tuple(out)

    def _read_regs(self, plc: Any, table: str, address: int, count: int) -> tuple[int, ...]:
        if not 1 <= count <= MAX_READ_REGS:
            raise _Reject(ILLEGAL_DATA_VALUE)
        out = [0] * count
        cache: dict[str, Any] = {}
        last, regs = None, ()
        for i, s in enumerate(self._check_range(table, address, count)):
            if s is not None:
                var, off = s
                if var is not last:  # encode each variable once per request
                    last, regs = var, var.encode(self._value(plc, var, cache))
                out[i] = regs[off]
        return tuple(out)

    def _writable_slots(self, plc: Any, table: str, address: int, count: int) -> list[tuple[MappedVar, int]]:
        slots = self._check_range(table, address, count)
        ro = self._read_only(plc)
        for s in slots:
            if s is None or not s[0].writable or s[0].key in ro:
                raise _Reject(ILLEGAL_DATA_ADDRESS)
        return slots

    def _plan_bits(self, plc: Any, address: int, values: tuple, max_count: int) -> list[tuple[MappedVar, Any]]:
        """Validate a coil write; return the (variable, value) updates to apply."""
        if not 1 <= len(values) <= max_count:
            raise _Reject(ILLEGAL_DATA_VALUE)
        for v in values:
            if not (isinstance(v, bool) or (isinstance(v, int) and v in (0, 1))):
                raise _Reject(ILLEGAL_DATA_VALUE)
        slots = self._writable_slots(plc, COILS, address, len(values))
        return [(s[0], bool(v)) for s, v in zip(slots, values)]

    def _plan_regs(self, plc: Any, address: int, values: tuple, max_count: int) -> list[tuple[MappedVar, Any]]:
        """Validate a holding-register write; return the (variable, value) updates to apply."""
        if not 1 <= len(values) <= max_count:
            raise _Reject(ILLEGAL_DATA_VALUE)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
                raise _Reject(ILLEGAL_DATA_VALUE)
        slots = self._writable_slots(plc, HOLDING, address, len(values))
        pending: dict[MappedVar, list[int]] = {}
        cache: dict[str, Any] = {}
        for (var, off), v in zip(slots, values):
            regs = pending.get(var)
            if regs is None:
                # start from the current value so a partial write keeps the other registers
                regs = pending[var] = [0] if var.width == 1 else var.encode(self._value(plc, var, cache))
            regs[off] = v
        updates = []
        for var, regs in pending.items():
            value = var.decode(regs)
            if value is _MISSING:
                raise _Reject(ILLEGAL_DATA_VALUE)
            updates.append((var, value))
        return updates

    @staticmethod
    def _apply(plc: Any, updates: list[tuple[MappedVar, Any]]) -> None:
        """Write validated values. Array elements are merged into one write per array."""
        arrays: dict[str, list] = {}
        for var, value in updates:
            if var.index is None:
                plc.write(var.path, value)
            else:
                lst = arrays.get(var.path)
                if lst is None:
                    lst = arrays[var.path] = list(plc.read(var.path))
                lst[var.index] = value
        for path, lst in arrays.items():
            plc.write(path, lst)

    def _read_write(self, plc: Any, req: ModbusRequest) -> tuple[int, ...]:
        """FC 23: validate both parts, then write, then read (spec 6.17)."""
        if not 1 <= req.count <= MAX_READ_REGS or not 1 <= len(req.values) <= MAX_RW_WRITE_REGS:
            raise _Reject(ILLEGAL_DATA_VALUE)
        updates = self._plan_regs(plc, req.write_address, req.values, MAX_RW_WRITE_REGS)
        self._check_range(HOLDING, req.address, req.count)  # no write if the read part would fail
        self._apply(plc, updates)
        return self._read_regs(plc, HOLDING, req.address, req.count)

    @staticmethod
    def _device_id(plc: Any, read_code: int, object_id: int) -> dict[int, bytes]:
        """FC 43/14 objects from the PLC config (spec 6.21)."""
        cfg = plc.config
        objects = {VENDOR_NAME: cfg.vendor, PRODUCT_CODE: cfg.product_code, MAJOR_MINOR_REVISION: cfg.version,
                   VENDOR_URL: cfg.vendor_url, PRODUCT_NAME: cfg.product, MODEL_NAME: cfg.model}
        # basic objects are mandatory; regular ones are optional, so leave out empty ones
        info = {k: str(v).encode() for k, v in objects.items() if k <= MAJOR_MINOR_REVISION or v}
        if read_code == 4:  # one specific object
            if object_id not in info:
                raise _Reject(ILLEGAL_DATA_ADDRESS)
            return {object_id: info[object_id]}
        if read_code not in (1, 2, 3):
            raise _Reject(ILLEGAL_DATA_VALUE)
        last = MAJOR_MINOR_REVISION if read_code == 1 else 0xFF  # extended = regular: no private objects
        ids = [k for k in info if k <= last]
        # an unknown start object restarts the stream at object 0 (spec 6.21)
        start = object_id if object_id in ids else 0
        return {k: info[k] for k in ids if k >= start}

    # ------------------------------------------------------------- introspection
    def lookup(self, table: str, address: int) -> tuple[MappedVar, int] | None:
        """(variable, offset) at an address, or None."""
        slots = self._slots[table]
        return slots[address] if 0 <= address < len(slots) else None


def _codec(t: IecType) -> tuple[Callable[[Any], list[int]], Callable[[list[int]], Any]]:
    """(encode, decode) for a type; the common ones inline, the rest via iec_types (same wire format)."""
    if t.kind == "bool":
        return (lambda v: [1 if v else 0]), (lambda r: bool(r[0]) if r[0] <= 1 else _MISSING)
    if t.kind == "int" and t.bits == 8:
        # one byte in the low half; a signed byte may also come sign-extended to 16 bits
        lo = 0xFF80 if t.signed else 0x10000

        def dec8(r: list[int]) -> Any:
            v = r[0]
            if v > 0xFF and v < lo:
                return _MISSING
            v &= 0xFF
            return v - 0x100 if t.signed and v & 0x80 else v

        return (lambda v: [v & 0xFF]), dec8
    if t.kind == "int" and t.bits == 16:
        if t.signed:
            return (lambda v: [v & 0xFFFF]), (lambda r: r[0] - 0x10000 if r[0] & 0x8000 else r[0])
        return (lambda v: [v]), (lambda r: r[0])
    if t.kind == "int" and t.bits == 32:
        def dec32(r: list[int]) -> int:
            v = (r[0] << 16) | r[1]
            return v - 0x100000000 if t.signed and v & 0x80000000 else v

        return (lambda v: [(v >> 16) & 0xFFFF, v & 0xFFFF]), dec32

    def dec(r: list[int]) -> Any:
        value = decode_registers(t, r)
        return value if t.accepts(value) else _MISSING

    return (lambda v: encode_registers(t, v)), dec
