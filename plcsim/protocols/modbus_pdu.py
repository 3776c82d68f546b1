"""Modbus PDU <-> ModbusRequest/ModbusResponse, for the function codes plcsim serves.

This is the decode/encode half of the one request path: the TCP server and
in-process clients that want wire bytes both call ``serve_pdu``, which
decodes, hands a ``ModbusRequest`` to ``Plc.handle`` and encodes the answer.

Why not pymodbus's PDU classes: its request decoders reject a quantity of 0
or above the limit before the server sees it, and pymodbus then answers
"illegal function" under function code 0x80; its FC 5 decoder turns any
value into a bool, so 0x1234 cannot be refused; and its FC 43 answer comes
from a process-wide identity. The spec wants 03 for all of the first two and
each PLC has its own identity, so the formats (a few struct layouts from the
Modbus Application Protocol v1.1b3, section 6) are decoded here.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from ..requests import ILLEGAL_DATA_VALUE, ILLEGAL_FUNCTION, SERVER_DEVICE_FAILURE, ModbusRequest, ModbusResponse

MAX_PDU = 253  # bytes, function code included (spec 4.1)
MEI_DEVICE_ID = 0x0E
CONFORMITY_LEVEL = 0x82  # regular identification, stream and individual access

log = logging.getLogger("plcsim.modbus")

_HH = struct.Struct(">HH")
_HHB = struct.Struct(">HHB")
_HHHHB = struct.Struct(">HHHHB")


class PduError(Exception):
    """A PDU that cannot become a ModbusRequest; answered with this exception code."""

    def __init__(self, function_code: int, code: int) -> None:
        super().__init__(f"function {function_code}: exception {code}")
        self.function_code = function_code
        self.code = code


def unpack_bits(data: bytes, count: int) -> tuple[bool, ...]:
    """Coils on the wire: LSB of the first byte is the first coil."""
    return tuple(bool((data[i >> 3] >> (i & 7)) & 1) for i in range(count))


def pack_bits(bits: tuple | list) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def decode_request(pdu: bytes, unit: int = 1) -> ModbusRequest:
    """Decode a request PDU (function code first). Raises PduError if it is malformed.

    Quantities and values are passed on as sent, even when out of range:
    judging them is ModbusMap's job, so in-process and network clients get
    the same answer. Unknown function codes are passed on too (-> 01).
    """
    fc = pdu[0]
    n = len(pdu)
    if fc in (1, 2, 3, 4, 5, 6):
        if n != 5:
            raise PduError(fc, ILLEGAL_DATA_VALUE)
        a, b = _HH.unpack_from(pdu, 1)
        if fc <= 4:
            return ModbusRequest(fc, a, b, unit=unit)
        return ModbusRequest(fc, a, 1, (b,), unit=unit)
    if fc in (15, 16):
        if n < 6:
            raise PduError(fc, ILLEGAL_DATA_VALUE)
        address, count, nbytes = _HHB.unpack_from(pdu, 1)
        if nbytes != n - 6 or nbytes != ((count + 7) // 8 if fc == 15 else 2 * count):
            raise PduError(fc, ILLEGAL_DATA_VALUE)
        if fc == 15:
            values = unpack_bits(pdu[6:], count)
        else:
            values = struct.unpack_from(f">{count}H", pdu, 6)
        return ModbusRequest(fc, address, count, values, unit=unit)
    if fc == 23:
        if n < 10:
            raise PduError(fc, ILLEGAL_DATA_VALUE)
        raddr, rcount, waddr, wcount, nbytes = _HHHHB.unpack_from(pdu, 1)
        if nbytes != n - 10 or nbytes != 2 * wcount:
            raise PduError(fc, ILLEGAL_DATA_VALUE)
        values = struct.unpack_from(f">{wcount}H", pdu, 10)
        return ModbusRequest(fc, raddr, rcount, values, write_address=waddr, unit=unit)
    if fc == 43:
        if n >= 2 and pdu[1] != MEI_DEVICE_ID:
            raise PduError(fc, ILLEGAL_FUNCTION)  # other MEI types (CANopen) are not served
        if n != 4:
            raise PduError(fc, ILLEGAL_DATA_VALUE)
        return ModbusRequest(fc, unit=unit, read_code=pdu[2], object_id=pdu[3])
    return ModbusRequest(fc, unit=unit)


def encode_exception(function_code: int, code: int) -> bytes:
    return bytes(((function_code | 0x80) & 0xFF, code))


def encode_response(req: ModbusRequest, resp: ModbusResponse) -> bytes:
    """Encode the response PDU for a request."""
    fc = req.function_code
    if resp.exception_code:
        return encode_exception(fc, resp.exception_code)
    if fc in (1, 2):
        data = pack_bits(resp.values)
        return bytes((fc, len(data))) + data
    if fc in (3, 4, 23):
        n = len(resp.values)
        return struct.pack(f">BB{n}H", fc, 2 * n, *resp.values)
    if fc == 5:
        v = req.values[0]
        raw = (0xFF00 if v else 0) if isinstance(v, bool) else v
        return struct.pack(">BHH", fc, req.address, raw)
    if fc == 6:
        return struct.pack(">BHH", fc, req.address, req.values[0])
    if fc in (15, 16):
        return struct.pack(">BHH", fc, req.address, len(req.values))
    if fc == 43:
        return _encode_device_id(req.read_code, resp.device_info)
    raise ValueError(f"no response encoding for function code {fc}")


def _encode_device_id(read_code: int, info: dict[int, bytes]) -> bytes:
    """FC 43/14 answer; objects that do not fit one PDU are left for a follow-up request."""
    space = MAX_PDU - 7  # fc, MEI type, read code, conformity, more follows, next id, count
    body = bytearray()
    count, more, next_id = 0, 0, 0
    for oid, value in info.items():
        if count == 0:
            value = value[:space - 2]  # a single object longer than a PDU is cut
        if len(body) + 2 + len(value) > space:
            more, next_id = 0xFF, oid
            break
        body += bytes((oid, len(value))) + value
        count += 1
    return bytes((43, MEI_DEVICE_ID, read_code, CONFORMITY_LEVEL, more, next_id, count)) + body


def serve_pdu(plc: Any, pdu: bytes, unit: int = 1) -> bytes:
    """One request PDU in, one response PDU out, through ``plc.handle``."""
    if not pdu:
        raise ValueError("empty PDU")
    try:
        req = decode_request(pdu, unit)
    except PduError as exc:
        return encode_exception(exc.function_code, exc.code)
    try:
        return encode_response(req, plc.handle(req))
    except Exception:  # a bug behind handle must not cost the client its answer
        log.exception("Modbus request %r failed", req)
        return encode_exception(req.function_code, SERVER_DEVICE_FAILURE)
