"""Modbus TCP server for one or several PLCs.

pymodbus 3.16 provides the listener and the connection bookkeeping (accept,
per-connection protocol objects, closing them all on shutdown). Everything
per frame is ours: MBAP framing here, PDU decode/encode in ``modbus_pdu``,
the answer from ``Plc.handle``. The reasons:

* pymodbus's request handler decodes with its own PDU classes, which give
  wrong exception codes for bad quantities and coil values (see modbus_pdu);
* it runs every request as a new task and keeps only the last decoded PDU,
  so two requests arriving in one TCP segment get one answered twice; its
  transport also empties the receive buffer on every send;
* a frame with a non-zero protocol id stalls its connection until 264
  bytes have piled up.

All pymodbus use is in ``_Listener`` and ``_Connection`` below, so a pymodbus
upgrade (pinned to 3.16.x: its server API moves between minors) touches
only them. The deprecated datastore classes are not used; the listener gets
a one-register ``SimDevice`` only because its constructor insists on one.
"""

from __future__ import annotations

import logging
import struct
from typing import Any, Mapping

from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from .modbus_pdu import encode_exception, serve_pdu

log = logging.getLogger("plcsim.modbus")

_MBAP = struct.Struct(">HHHB")  # transaction id, protocol id (0), length (unit + PDU), unit id
MAX_LENGTH = 254  # MBAP length field: unit id + a PDU of at most 253 bytes (spec: ADU <= 260)
GATEWAY_TARGET_FAILED = 0x0B  # answer for a unit id no PLC serves, as a gateway would
MAX_PENDING_OUTPUT = 1 << 20  # a client that sends without reading is dropped past this


class _Connection(ServerRequestHandler):
    """One client connection: split the byte stream into MBAP frames and answer each in turn."""

    def __init__(self, owner: "_Listener") -> None:
        super().__init__(owner, None, None, None)
        self._route = owner.route
        self._buf = bytearray()

    def data_received(self, data: bytes) -> None:  # asyncio.Protocol entry point
        try:
            self._frames(data)
        except Exception:  # never let one client's bytes take anything else down
            log.exception("Modbus connection dropped after an internal error")
            self.close()

    def _frames(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        # answer every complete frame in the buffer, in order (clients may pipeline)
        while len(buf) >= 7:
            tid, pid, length, unit = _MBAP.unpack_from(buf)
            if pid != 0 or not 2 <= length <= MAX_LENGTH:
                # A broken header leaves no way to find the next frame in a TCP
                # stream: drop this connection, as a PLC does. Others are unaffected.
                # INFO, not WARNING: drills send garbage on purpose and must not flood the log
                log.info("Modbus: bad MBAP header (protocol %d, length %d); closing connection", pid, length)
                self.close()
                return
            end = 6 + length
            if len(buf) < end:
                return  # wait for the rest of the frame
            pdu = bytes(buf[7:end])
            del buf[:end]
            plc = self._route(unit)
            reply = encode_exception(pdu[0], GATEWAY_TARGET_FAILED) if plc is None else serve_pdu(plc, pdu, unit)
            transport = self.transport
            if transport is None:  # closed meanwhile
                return
            transport.write(_MBAP.pack(tid, 0, len(reply) + 1, unit) + reply)
            if transport.get_write_buffer_size() > MAX_PENDING_OUTPUT:
                log.warning("Modbus: client does not read its answers; closing connection")
                self.close()
                return


class _Listener(ModbusTcpServer):
    """pymodbus's TCP listener, creating our connection objects."""

    def __init__(self, route: Any, host: str, port: int) -> None:
        super().__init__(SimDevice(0, simdata=SimData(0, datatype=DataType.REGISTERS)), address=(host, port))
        self.route = route

    def callback_new_connection(self) -> _Connection:
        return _Connection(self)


class ModbusServerHandle:
    """A running server: ``host``, ``port`` (the bound one, also when 0 was asked) and ``await stop()``."""

    def __init__(self, listener: _Listener, host: str, port: int) -> None:
        self._listener = listener
        self.host = host
        self.port = port

    @property
    def connections(self) -> int:
        return len(self._listener.active_connections)

    async def stop(self) -> None:
        if self._listener is None:
            return
        listener, self._listener = self._listener, None
        server = listener.transport  # asyncio.Server; shutdown() forgets it
        await listener.shutdown()  # stops listening and closes every client connection
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> "ModbusServerHandle":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


async def start_modbus_server(
    plc_or_units: Any | Mapping[int, Any],
    host: str = "127.0.0.1",
    port: int = 5020,
    *,
    log_level: int | str | None = None,
) -> ModbusServerHandle:
    """Serve a PLC (answering any unit id) or a dict unit id -> PLC on Modbus TCP.

    Unit ids missing from the dict get exception 0x0B (gateway target failed
    to respond). pymodbus logs at WARNING unless ``log_level`` says otherwise.
    Raises OSError if the address cannot be bound.
    """
    logging.getLogger("pymodbus").setLevel(logging.WARNING if log_level is None else log_level)
    if isinstance(plc_or_units, Mapping):
        units = dict(plc_or_units)
        for unit in units:
            if not isinstance(unit, int) or not 0 <= unit <= 255:
                raise ValueError(f"Modbus unit id must be 0..255, not {unit!r}")
        route = units.get
    else:
        single = plc_or_units

        def route(unit: int) -> Any:
            return single

    listener = _Listener(route, host, port)
    if not await listener.listen():  # pymodbus logs the OSError and returns False
        raise OSError(f"Modbus: cannot listen on {host}:{port}")
    bound = listener.transport.sockets[0].getsockname()[1]
    return ModbusServerHandle(listener, host, bound)
