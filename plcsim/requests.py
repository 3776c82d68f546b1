"""Decoded protocol operations and their results.

The socket servers (Modbus TCP, OPC UA) decode frames into these objects and
hand them to ``Plc.handle``; in-process callers (the twin's simulated HMI,
historian, attacker) build the same objects directly. One code path, so a
policy check or a fault seen in virtual time is the one a real client meets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Modbus exception codes (Modbus Application Protocol v1.1b3, section 7)
ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
SERVER_DEVICE_FAILURE = 0x04


@dataclass(frozen=True)
class ModbusRequest:
    """One Modbus PDU, decoded.

    function_code: 1,2,3,4 (read), 5,6 (write single), 15,16 (write multiple),
    23 (read/write multiple registers), 43 (MEI: read device identification).
    For writes, ``values`` holds bools (coils) or 16-bit ints (registers).
    For FC 23, ``address``/``count`` is the read part and
    ``write_address``/``values`` the write part (the write happens first).
    For FC 43, ``read_code`` is the device-id code (1 basic, 2 regular,
    3 extended, 4 one object) and ``object_id`` the first object.
    """

    function_code: int
    address: int = 0
    count: int = 1
    values: tuple = ()
    write_address: int = 0
    unit: int = 1
    read_code: int = 1
    object_id: int = 0


@dataclass(frozen=True)
class ModbusResponse:
    values: tuple = ()
    exception_code: int = 0
    # FC 43/14: object id -> bytes
    device_info: dict[int, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exception_code == 0


# OPC UA-side operations. Names are the tag paths of the PLC (NodeId strings).


@dataclass(frozen=True)
class OpcRead:
    paths: tuple[str, ...]


@dataclass(frozen=True)
class OpcWrite:
    path: str
    value: Any


@dataclass(frozen=True)
class OpcCall:
    method: str  # "Start" | "Stop"


@dataclass(frozen=True)
class OpcResult:
    # OPC UA StatusCode name: "Good", "BadNodeIdUnknown", "BadNotWritable",
    # "BadTypeMismatch", "BadOutOfRange", ...
    status: str = "Good"
    values: tuple = ()

    @property
    def ok(self) -> bool:
        return self.status == "Good"
