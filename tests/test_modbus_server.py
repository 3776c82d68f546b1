"""Modbus TCP server: real clients (pymodbus, raw sockets, mbpoll) against real compiled PLCs on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import shutil
import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient

from plcsim.config import PlcConfig, TagMapEntry
from plcsim.protocols.modbus_pdu import serve_pdu
from plcsim.protocols.modbus_server import start_modbus_server
from plcsim.runtime import Plc

SOURCE = """
PROGRAM Main
VAR
  start AT %IX0.0 : BOOL;
  motor AT %QX0.0 : BOOL;
  lamp AT %QX0.1 : BOOL;
  speed AT %QW0 : INT;
  speed2 AT %QW1 : INT;
  speed3 AT %QW2 : INT;
  speed4 AT %QW3 : INT;
  level AT %IW2 : UINT;
  sp AT %MW3 : INT := 5;
  total AT %MD1 : DINT;
  ratio AT %MD4 : REAL := 1.5;
  hidden : REAL;
END_VAR
VAR CONSTANT
  limit AT %MW10 : INT := 100;
END_VAR
motor := start;
END_PROGRAM
"""
SP, LIMIT, TOTAL, RATIO = 1027, 1034, 2050, 2056
TIMEOUT = 5.0


def make_plc(source: str = SOURCE, **cfg) -> Plc:
    cfg.setdefault("tag_map", [TagMapEntry("Main.hidden", "holding_registers", 100, 1)])
    plc = Plc(source, config=PlcConfig(vendor="Acme", product_code="AC-1", version="2.3.4", model="F100", **cfg))
    plc.scan(0)
    return plc


@pytest.fixture
def plc() -> Plc:
    return make_plc()


@pytest.fixture
async def server(plc):
    handle = await start_modbus_server(plc, "127.0.0.1", 0)
    yield handle
    await handle.stop()


async def connect(port: int) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=TIMEOUT, retries=0, reconnect_delay=0)
    assert await client.connect()
    return client


@pytest.fixture
async def client(server):
    c = await connect(server.port)
    yield c
    c.close()


# --------------------------------------------------------------- raw frames
def frame(pdu: bytes, tid: int = 1, unit: int = 1) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


async def read_adu(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    """(transaction id, unit, pdu) of one response."""
    head = await asyncio.wait_for(reader.readexactly(7), TIMEOUT)
    tid, pid, length, unit = struct.unpack(">HHHB", head)
    assert pid == 0
    return tid, unit, await asyncio.wait_for(reader.readexactly(length - 1), TIMEOUT)


async def exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return (await read_adu(reader))[2]
    finally:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(100), TIMEOUT) == b""
    except ConnectionResetError:
        return True


# ------------------------------------------------------- every function code
async def test_fc1_fc2_read_bits(client, plc):
    plc.set_input("start", True)
    plc.scan(10)
    rr = await client.read_coils(0, count=3)
    assert not rr.isError() and rr.bits[:3] == [True, False, False]
    rr = await client.read_discrete_inputs(0, count=2)
    assert rr.bits[:2] == [True, False]


async def test_fc3_fc4_read_registers(client, plc):
    plc.write("total", -2)
    plc.set_input("level", 999)
    plc.scan(10)
    assert (await client.read_holding_registers(SP, count=1)).registers == [5]
    assert (await client.read_holding_registers(TOTAL, count=2)).registers == [0xFFFF, 0xFFFE]
    assert (await client.read_holding_registers(RATIO, count=2)).registers == [0x3FC0, 0]
    assert (await client.read_input_registers(0, count=4)).registers == [0, 0, 999, 0]
    assert (await client.read_holding_registers(LIMIT, count=1)).registers == [100]


async def test_fc5_fc15_write_coils(client, plc):
    assert not (await client.write_coil(1, True)).isError()
    assert plc.read("lamp") is True
    assert not (await client.write_coils(0, [True, False])).isError()
    assert plc.read("motor") is True and plc.read("lamp") is False


async def test_fc6_fc16_write_registers(client, plc):
    assert not (await client.write_register(0, 0xFFFF)).isError()
    assert plc.read("speed") == -1
    assert not (await client.write_registers(0, [1, 2, 3, 4])).isError()
    assert [plc.read(n) for n in ("speed", "speed2", "speed3", "speed4")] == [1, 2, 3, 4]
    assert not (await client.write_registers(100, [0x4049, 0x0FDB])).isError()
    assert plc.read("hidden") == pytest.approx(3.1415927)


async def test_fc23_read_write(client, plc):
    rr = await client.readwrite_registers(read_address=0, read_count=2, write_address=1, values=[77])
    assert not rr.isError() and rr.registers == [0, 77]
    assert plc.read("speed2") == 77


async def test_fc43_device_identification(client):
    rr = await client.read_device_information(read_code=1, object_id=0)
    assert not rr.isError()
    assert rr.information == {0: b"Acme", 1: b"AC-1", 2: b"2.3.4"}
    rr = await client.read_device_information(read_code=2, object_id=0)
    assert rr.information[4] == b"plcsim" and rr.information[5] == b"F100"
    rr = await client.read_device_information(read_code=4, object_id=5)
    assert rr.information == {5: b"F100"}


async def test_fc43_answers_from_each_plc_config():
    a = make_plc(vendor_url="http://a.invalid")
    b = make_plc()
    b.config.vendor = "Other"
    async with await start_modbus_server({1: a, 2: b}, "127.0.0.1", 0) as srv:
        c = await connect(srv.port)
        try:
            ra = await c.read_device_information(read_code=1, device_id=1)
            rb = await c.read_device_information(read_code=1, device_id=2)
            assert ra.information[0] == b"Acme" and rb.information[0] == b"Other"
        finally:
            c.close()


# ---------------------------------------------------------- exception codes
async def test_exception_02_over_the_wire(client, plc):
    rr = await client.read_holding_registers(4096, count=1)
    assert rr.isError() and rr.exception_code == 2
    rr = await client.write_register(LIMIT, 1)  # VAR CONSTANT
    assert rr.isError() and rr.exception_code == 2
    rr = await client.write_registers(0, [9] * 5)  # %QW4 is not mapped: nothing written
    assert rr.exception_code == 2 and plc.read("speed") == 0
    rr = await client.write_coil(2, True)
    assert rr.exception_code == 2
    rr = await client.read_coils(8190, count=5)
    assert rr.exception_code == 2


async def test_exception_03_over_the_wire(server, client, plc):
    def fc(pdu: bytes) -> tuple[int, int]:
        return pdu[0], pdu[1]

    # quantities pymodbus's client refuses to send, so raw frames
    assert fc(await exchange(server.port, frame(struct.pack(">BHH", 3, 0, 0)))) == (0x83, 3)
    assert fc(await exchange(server.port, frame(struct.pack(">BHH", 3, 0, 126)))) == (0x83, 3)
    assert fc(await exchange(server.port, frame(struct.pack(">BHH", 1, 0, 2001)))) == (0x81, 3)
    assert fc(await exchange(server.port, frame(struct.pack(">BHH", 5, 0, 0x1234)))) == (0x85, 3)
    # FC 16 whose byte count disagrees with its quantity
    assert fc(await exchange(server.port, frame(struct.pack(">BHHBH", 16, 0, 2, 2, 1)))) == (0x90, 3)
    # a PDU cut short
    assert fc(await exchange(server.port, frame(bytes((3, 0, 0))))) == (0x83, 3)
    assert plc.read("motor") is False and plc.read("speed") == 0
    # a REAL register pair is fine with any bits; a BOOL register is not
    flag_plc = make_plc("PROGRAM Main VAR flag : BOOL; END_VAR END_PROGRAM",
                        tag_map=[TagMapEntry("Main.flag", "holding_registers", 0, 1)])
    async with await start_modbus_server(flag_plc, "127.0.0.1", 0) as srv:
        c = await connect(srv.port)
        try:
            rr = await c.write_register(0, 7)
            assert rr.isError() and rr.exception_code == 3
            assert not (await c.write_register(0, 1)).isError() and flag_plc.read("flag") is True
        finally:
            c.close()


async def test_exception_01_unknown_function(server, client):
    assert await exchange(server.port, frame(bytes((0x41, 0, 0)))) == bytes((0xC1, 1))
    assert await exchange(server.port, frame(bytes((43, 13, 1, 0)))) == bytes((0xAB, 1))  # MEI 13 (CANopen)
    rr = await client.diag_read_diagnostic_register()  # FC 8 is not served
    assert rr.isError() and rr.exception_code == 1


# ------------------------------------------------------------- unit routing
async def test_single_plc_answers_any_unit(client):
    for unit in (0, 1, 17, 255):
        assert (await client.read_holding_registers(SP, count=1, device_id=unit)).registers == [5]


async def test_several_plcs_by_unit_id():
    a = make_plc()
    b = make_plc(SOURCE.replace("sp AT %MW3 : INT := 5", "sp AT %MW3 : INT := 6"))
    async with await start_modbus_server({1: a, 2: b}, "127.0.0.1", 0) as srv:
        c = await connect(srv.port)
        try:
            assert (await c.read_holding_registers(SP, count=1, device_id=1)).registers == [5]
            assert (await c.read_holding_registers(SP, count=1, device_id=2)).registers == [6]
            await c.write_register(0, 11, device_id=2)
            assert a.read("speed") == 0 and b.read("speed") == 11
            rr = await c.read_holding_registers(SP, count=1, device_id=3)
            assert rr.isError() and rr.exception_code == 0x0B  # no PLC behind unit 3
        finally:
            c.close()


# ---------------------------------------------------------- malformed input
async def test_malformed_frames_never_hurt_other_connections(server, client, plc):
    plc.write("speed", 1234)
    port = server.port

    async def good_reads(n: int) -> None:
        for _ in range(n):
            rr = await client.read_holding_registers(0, count=2)
            assert not rr.isError() and rr.registers == [1234, 0]
            await asyncio.sleep(0)

    async def abuse() -> None:
        attacks = [
            b"\xde\xad\xbe\xef" * 20,                            # garbage (protocol id != 0)
            struct.pack(">HHHB", 1, 0, 0xFFFF, 1) + b"\x03",      # huge length
            struct.pack(">HHHB", 1, 0, 1, 1),                      # length with no PDU
            struct.pack(">HHHB", 1, 0, 0, 1),                      # zero length
            b"\x00\x01\x00",                                       # truncated MBAP, then hang up
            frame(bytes((3, 0, 0, 0, 1)))[:9],                     # truncated PDU, then hang up
            b"\x00" * 10_000,                                      # zero flood: frames of length 0
        ]
        for data in attacks:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(data)
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.close()

    await asyncio.gather(good_reads(200), abuse(), abuse())
    await good_reads(5)
    for _ in range(100):  # the server notices hang-ups asynchronously
        if server.connections == 1:
            break
        await asyncio.sleep(0.02)
    assert server.connections == 1  # the well-behaved client only


async def test_bad_header_closes_only_that_connection(server, client):
    for data in (b"\xde\xad\xbe\xef" * 4, struct.pack(">HHHB", 1, 0, 0xFFFF, 1), struct.pack(">HHHB", 7, 0, 1, 1)):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(data)
        assert await closed_by_server(reader)
        writer.close()
    assert (await client.read_holding_registers(SP, count=1)).registers == [5]


async def test_wrong_length_field(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        # length says 3 (unit + 2 PDU bytes) but 5 PDU bytes follow: the short PDU gets 03 ...
        writer.write(struct.pack(">HHHB", 5, 0, 3, 1) + bytes((3, 0, 0, 0, 1)))
        tid, _, pdu = await read_adu(reader)
        assert (tid, pdu) == (5, bytes((0x83, 3)))
        # ... and the 3 bytes left over start a header that never completes: no answer, no crash
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.readexactly(1), 0.2)
    finally:
        writer.close()
    # a length longer than what is sent: the server waits for the rest
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(struct.pack(">HHHB", 6, 0, 20, 1) + bytes((3, 0, 0, 0, 1)))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.readexactly(1), 0.2)
    finally:
        writer.close()
    assert await exchange(server.port, frame(struct.pack(">BHH", 3, SP, 1))) == bytes((3, 2, 0, 5))


async def test_split_and_pipelined_frames(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        one = frame(struct.pack(">BHH", 3, SP, 1), tid=1)
        for i in range(len(one)):  # byte by byte, header split too
            writer.write(one[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        assert await read_adu(reader) == (1, 1, bytes((3, 2, 0, 5)))
        # 50 requests in one segment: 50 answers, in order
        writer.write(b"".join(frame(struct.pack(">BHH", 3, LIMIT, 1), tid=t, unit=9) for t in range(100, 150)))
        for t in range(100, 150):
            assert await read_adu(reader) == (t, 9, bytes((3, 2, 0, 100)))
    finally:
        writer.close()


async def test_stop_closes_clients_and_listener(plc):
    srv = await start_modbus_server(plc, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    await srv.stop()
    assert await closed_by_server(reader)
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", srv.port)
    await srv.stop()  # idempotent


async def test_port_in_use_raises_oserror(server, plc):
    with pytest.raises(OSError):
        await start_modbus_server(plc, "127.0.0.1", server.port)


# --------------------------------------------------- PDU codec, in-process
def test_serve_pdu_in_process(plc):
    # the same bytes path the socket uses, without a socket
    assert serve_pdu(plc, struct.pack(">BHH", 3, SP, 1)) == bytes((3, 2, 0, 5))
    assert serve_pdu(plc, struct.pack(">BHH", 5, 0, 0xFF00)) == struct.pack(">BHH", 5, 0, 0xFF00)
    assert plc.read("motor") is True
    assert serve_pdu(plc, struct.pack(">BHHBB", 15, 0, 2, 1, 0b10)) == struct.pack(">BHH", 15, 0, 2)
    assert plc.read("motor") is False and plc.read("lamp") is True
    assert serve_pdu(plc, struct.pack(">BHHBB", 15, 0, 2, 2, 0)) == bytes((0x8F, 3))  # byte count wrong
    assert serve_pdu(plc, struct.pack(">BHHHHBH", 23, 0, 1, 0, 1, 2, 5)) == bytes((23, 2, 0, 5))
    assert serve_pdu(plc, struct.pack(">BHHHHBH", 23, 0, 1, 0, 2, 2, 5)) == bytes((0x97, 3))


def test_device_id_longer_than_a_pdu_is_split(plc):
    plc.config.vendor = "V" * 200
    plc.config.product_code = "P" * 100
    first = serve_pdu(plc, bytes((43, 14, 1, 0)))
    # fc, MEI, read code, conformity, more follows, next object, object count
    assert first[:7] == bytes((43, 14, 1, 0x82, 0xFF, 1, 1)) and len(first) <= 253
    rest = serve_pdu(plc, bytes((43, 14, 1, 1)))
    assert rest[4:7] == bytes((0, 0, 2)) and b"P" * 100 in rest
    plc.config.vendor = "V" * 400  # one object longer than a PDU is cut to fit
    assert len(serve_pdu(plc, bytes((43, 14, 4, 0)))) == 253


# ------------------------------------------------------------------- mbpoll
MBPOLL = shutil.which("mbpoll")
# skipped (with this reason in the summary) only outside CI; CI installs mbpoll, so there it must run
needs_mbpoll = pytest.mark.skipif(MBPOLL is None and not os.environ.get("CI"),
                                  reason="mbpoll not installed (apt install mbpoll)")


async def mbpoll(port: int, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        MBPOLL, "-m", "tcp", "-a", "1", "-1", "-o", "2", "-p", str(port), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode(errors="replace")


def polled(out: str) -> dict[int, str]:
    """mbpoll's '[ref]: value' lines."""
    vals = {}
    for line in out.splitlines():
        if line.startswith("[") and "]:" in line:
            ref, val = line.split("]:", 1)
            vals[int(ref[1:])] = val.strip()
    return vals


@needs_mbpoll
async def test_mbpoll_reads_and_writes_registers(server, plc):
    plc.write("speed", -7)
    rc, out = await mbpoll(server.port, "-r", "1", "-c", "4", "-t", "4", "127.0.0.1")  # 1-based: address 0
    assert rc == 0, out
    assert polled(out) == {1: "65529 (-7)", 2: "0", 3: "0", 4: "0"}  # mbpoll shows both readings
    rc, out = await mbpoll(server.port, "-0", "-r", "1", "-t", "4", "127.0.0.1", "321")
    assert rc == 0, out
    assert plc.read("speed2") == 321
    rc, out = await mbpoll(server.port, "-0", "-r", str(RATIO), "-t", "4:float", "-B", "127.0.0.1", "2.25")
    assert rc == 0 and plc.read("ratio") == 2.25, out
    rc, out = await mbpoll(server.port, "-0", "-r", str(RATIO), "-c", "1", "-t", "4:float", "-B", "127.0.0.1")
    assert polled(out) == {RATIO: "2.25"}
    plc.set_input("level", 4000)
    plc.scan(10)
    rc, out = await mbpoll(server.port, "-0", "-r", "2", "-t", "3", "127.0.0.1")
    assert polled(out) == {2: "4000"}


@needs_mbpoll
async def test_mbpoll_reads_and_writes_coils(server, plc):
    rc, out = await mbpoll(server.port, "-0", "-r", "1", "-t", "0", "127.0.0.1", "1")
    assert rc == 0 and plc.read("lamp") is True, out
    rc, out = await mbpoll(server.port, "-0", "-r", "0", "-c", "3", "-t", "0", "127.0.0.1")
    assert polled(out) == {0: "0", 1: "1", 2: "0"}
    plc.set_input("start", True)
    plc.scan(10)
    rc, out = await mbpoll(server.port, "-0", "-r", "0", "-c", "2", "-t", "1", "127.0.0.1")
    assert polled(out) == {0: "1", 1: "0"}


@needs_mbpoll
async def test_mbpoll_sees_exceptions(server, plc):
    rc, out = await mbpoll(server.port, "-0", "-r", "5000", "-t", "4", "127.0.0.1")
    assert rc != 0 and "Illegal data address" in out
    rc, out = await mbpoll(server.port, "-0", "-r", str(LIMIT), "-t", "4", "127.0.0.1", "5")
    assert rc != 0 and "Illegal data address" in out
    assert plc.read("limit") == 100
