"""Operations: what a request does, in the terms firewall rules speak.

This is the one place that maps a protocol request to (protocol, port,
operation, function code, address ranges, OPC UA nodes, security mode). The
engine calls ``flow_of`` with the very request objects its simulated HMI,
historian, engineering workstation and attacker hand to ``Plc.handle``, and
the static analysis reasons about the same ``Service`` values, so the two can
never disagree about what a request is.

Program download is its own engineering protocol, ``eng`` on TCP 102 (where
S7comm downloads travel), with one operation, ``program_download``. It is not
an OPC UA call: real downloads use a vendor protocol, firewalls treat
engineering access separately, it compiles to nftables as a plain port match,
and a rule set can let the HMI call Start/Stop without letting anyone replace
the program.
"""

from __future__ import annotations

from dataclasses import dataclass

from plcsim import requests as rq

# Tables as plcsim names them (plcsim.tags); rules use the same words.
COILS, DISCRETE_INPUTS, HOLDING, INPUT_REGISTERS = "coils", "discrete_inputs", "holding_registers", "input_registers"
TABLES = (COILS, DISCRETE_INPUTS, HOLDING, INPUT_REGISTERS)
ADDRESS_SPACE = 65536  # Modbus addresses are 16 bits

MODBUS, OPCUA, ENG, TCP, UDP = "modbus", "opcua", "eng", "tcp", "udp"
APP_PROTOCOLS = (MODBUS, OPCUA, ENG)
PROTOCOLS = APP_PROTOCOLS + (TCP, UDP)
DEFAULT_PORT = {MODBUS: 502, OPCUA: 4840, ENG: 102}
L4 = {MODBUS: TCP, OPCUA: TCP, ENG: TCP, TCP: TCP, UDP: UDP}  # what nftables sees

SECURITY_MODES = ("None", "Sign", "SignAndEncrypt")
OPCUA_SERVICES = ("read", "write", "browse", "call", "subscribe")

# Function code -> (operation, table it touches or None). FC 23 reads and writes holding registers.
FUNCTION_CODES: dict[int, tuple[str, str | None]] = {
    1: ("modbus.read", COILS), 2: ("modbus.read", DISCRETE_INPUTS), 3: ("modbus.read", HOLDING),
    4: ("modbus.read", INPUT_REGISTERS),
    5: ("modbus.write", COILS), 6: ("modbus.write", HOLDING), 15: ("modbus.write", COILS),
    16: ("modbus.write", HOLDING), 22: ("modbus.write", HOLDING), 23: ("modbus.write", HOLDING),
    7: ("modbus.diag", None), 8: ("modbus.diag", None), 11: ("modbus.diag", None), 12: ("modbus.diag", None),
    17: ("modbus.diag", None), 43: ("modbus.diag", None),
}
# The function codes analysed for an operation class (the lists; FC 22 is rare, still a write).
OP_FCS = {"modbus.read": (1, 2, 3, 4), "modbus.write": (5, 6, 15, 16, 23), "modbus.diag": (43,)}

OPS_BY_PROTO = {
    MODBUS: ("modbus.read", "modbus.write", "modbus.diag", "modbus.other"),
    OPCUA: tuple(f"opcua.{s}" for s in OPCUA_SERVICES),
    ENG: ("program_download",),
    TCP: ("tcp",),
    UDP: ("udp",),
}
PROTO_OF_OP = {op: proto for proto, ops in OPS_BY_PROTO.items() for op in ops}
OPS = tuple(PROTO_OF_OP)
# What static analysis enumerates when a flow says `op: any` and what `net diff` compares: every application
# operation on its standard port (modbus.other has no meaning to enumerate), plus tcp/udp to ports rules name.
ANALYSED_OPS = ("modbus.read", "modbus.write", "modbus.diag", "opcua.read", "opcua.write", "opcua.browse",
                "opcua.call", "opcua.subscribe", "program_download", "tcp", "udp")


@dataclass(frozen=True, slots=True)
class Service:
    """A request without its endpoints. ``ranges`` are half-open (table, start, end); ``nodes`` are NodeId
    strings, lower-cased because plcsim resolves tag paths case-insensitively (a deny on 'Filler.level' must
    stop 'FILLER.LEVEL' too)."""

    proto: str
    port: int
    op: str
    fc: int | None = None
    ranges: tuple[tuple[str, int, int], ...] = ()
    nodes: tuple[str, ...] = ()
    security: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """One request from a host to a host: what `evaluate` decides on (hashable: decisions are cached by it)."""

    src: str
    dst: str
    service: Service

    @property
    def op(self) -> str:
        return self.service.op


# Requests plcsim has no object for yet; the twin's clients build these.
@dataclass(frozen=True)
class ProgramDownload:
    """An engineering workstation replaces the PLC program (plcsim: ``Plc.download``)."""


@dataclass(frozen=True)
class OpcBrowse:
    node: str = ""


@dataclass(frozen=True)
class OpcSubscribe:
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class TcpConnect:
    port: int


def classify(request: object, *, plc: str = "", security: str = "None", port: int | None = None) -> Service:
    """The Service of a request. ``plc`` names the target (OPC UA method nodes are '<plc>.Start');
    ``security`` is the OPC UA channel's mode; ``port`` overrides the protocol's standard port."""
    if isinstance(request, rq.ModbusRequest):
        return _modbus(request, port or DEFAULT_PORT[MODBUS])
    ua_port = port or DEFAULT_PORT[OPCUA]
    if security not in SECURITY_MODES:
        raise ValueError(f"unknown OPC UA security mode {security!r}; use one of {', '.join(SECURITY_MODES)}")
    if isinstance(request, rq.OpcRead):
        return Service(OPCUA, ua_port, "opcua.read", nodes=_lower(request.paths), security=security)
    if isinstance(request, rq.OpcWrite):
        return Service(OPCUA, ua_port, "opcua.write", nodes=_lower((request.path,)), security=security)
    if isinstance(request, rq.OpcCall):
        node = f"{plc}.{request.method}" if plc else request.method
        return Service(OPCUA, ua_port, "opcua.call", nodes=_lower((node,)), security=security)
    if isinstance(request, OpcBrowse):
        return Service(OPCUA, ua_port, "opcua.browse", nodes=_lower((request.node,)), security=security)
    if isinstance(request, OpcSubscribe):
        return Service(OPCUA, ua_port, "opcua.subscribe", nodes=_lower(request.paths), security=security)
    if isinstance(request, ProgramDownload):
        return Service(ENG, port or DEFAULT_PORT[ENG], "program_download")
    if isinstance(request, TcpConnect):
        return Service(TCP, request.port, "tcp")
    raise TypeError(f"cannot classify a {type(request).__name__} request")


def flow_of(src: str, dst: str, request: object, *, security: str = "None", port: int | None = None) -> Flow:
    """The Flow of `request` sent from host `src` to host `dst` (the PLC's host name is its plcsim name)."""
    return Flow(src, dst, classify(request, plc=dst, security=security, port=port))


def _lower(paths) -> tuple[str, ...]:
    return tuple(p.lower() for p in paths)


def _modbus(r: rq.ModbusRequest, port: int) -> Service:
    op, table = FUNCTION_CODES.get(r.function_code, ("modbus.other", None))
    fc = r.function_code
    if table is None:
        return Service(MODBUS, port, op, fc=fc)
    if fc in (5, 6, 22):
        ranges = ((table, r.address, r.address + 1),)
    elif fc in (15, 16):
        n = len(r.values) or r.count
        ranges = ((table, r.address, r.address + n),)
    elif fc == 23:  # the write part happens first; both parts are checked
        ranges = ((table, r.write_address, r.write_address + max(len(r.values), 1)),
                  (table, r.address, r.address + r.count))
    else:
        ranges = ((table, r.address, r.address + r.count),)
    return Service(MODBUS, port, op, fc=fc, ranges=ranges)
