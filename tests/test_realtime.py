"""Real-time mode: real Modbus TCP and OPC UA clients watch the line and change it over 127.0.0.1."""

import asyncio

import pytest
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient

from twin.api import load
from twin.engine.realtime import start_realtime

SCENARIO = "scenarios/bottling/baseline.yaml"


@pytest.fixture
async def live():
    rt = await start_realtime(load(SCENARIO))
    yield rt
    await rt.stop()


async def wait_for(pred, timeout=10.0, step=0.05):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await pred():
            return True
        await asyncio.sleep(step)
    return False


async def test_modbus_client_sees_the_tank_move_and_stops_the_line(live):
    ep = live.endpoints
    assert set(ep.modbus) == {"filler_plc", "capper_plc", "qa_plc", "line_plc"}
    filler = AsyncModbusTcpClient("127.0.0.1", port=ep.modbus["filler_plc"])
    line = AsyncModbusTcpClient("127.0.0.1", port=ep.modbus["line_plc"])
    await filler.connect()
    await line.connect()
    try:
        # the operator starts the line at 1 s; the horn sounds 2 s; then the conveyors run (coil 0)
        async def conveyors_running():
            r = await line.read_coils(0, count=1)
            return not r.isError() and r.bits[0]

        assert await wait_for(conveyors_running, timeout=8)

        # the tank level (%IW0, 0.01 %) moves as bottles are filled and the pump refills
        levels = []
        for _ in range(6):
            r = await filler.read_input_registers(0, count=1)
            assert not r.isError()
            levels.append(r.registers[0])
            await asyncio.sleep(0.4)
        assert len(set(levels)) > 1, levels
        assert all(0 < v < 10000 for v in levels)

        # bottles are being filled: the filler's counter (%QW0) goes up
        r0 = (await filler.read_holding_registers(0, count=1)).registers[0]
        await asyncio.sleep(1.0)
        r1 = (await filler.read_holding_registers(0, count=1)).registers[0]
        assert r1 > r0

        # an HMI stop (coil 9 = %QX1.1) stops the conveyors: the line itself stops
        w = await line.write_coil(9, True)
        assert not w.isError()

        async def conveyors_stopped():
            return not live.twin.line.board["conveyors.run"].value

        assert await wait_for(conveyors_stopped, timeout=2)
        assert not (await line.read_coils(0, count=1)).bits[0]
        assert live.twin.plcs["line_plc"].read("stop_reason") == 3
    finally:
        filler.close()
        line.close()


async def test_opcua_client_reads_subscribes_and_writes(live):
    async with Client(live.endpoints.opcua) as client:
        ns = await client.get_namespace_index("urn:twin:plcsim:filler_plc")
        level = client.get_node(ua.NodeId("Filler.level", ns))
        first = await level.read_value()

        changes = []

        class Handler:
            def datachange_notification(self, node, val, data):
                changes.append(val)

        sub = await client.create_subscription(50, Handler())
        await sub.subscribe_data_change(level)
        assert await wait_for(lambda: _async(len(set(changes)) > 1), timeout=8), changes
        assert isinstance(first, int)

        # raising the refill band over the current level makes the filler PLC start the inlet pump
        pump = live.twin.line.board["tank.inlet_pump"]
        assert pump.value is False  # 70 % at start: inside the 60-80 % band, the pump is off
        for name, value in (("Filler.level_hi_sp", 99.0), ("Filler.level_lo_sp", 98.0)):
            await client.get_node(ua.NodeId(name, ns)).write_value(ua.Variant(value, ua.VariantType.Float))
        assert live.twin.plcs["filler_plc"].read("level_lo_sp") == 98.0
        assert await wait_for(lambda: _async(pump.value is True), timeout=2)
        assert await client.get_node(ua.NodeId("Filler.inlet_pump", ns)).read_value() is True
        await sub.delete()


async def _async(value):
    return value
