"""Real-time mode: the same line and PLCs, paced on the wall clock, serving real protocols.

One asyncio loop runs everything: it steps the SimPy model up to "now"
every few milliseconds (PLC scans happen inside, on their 10 ms grid) and
serves Modbus TCP per PLC and one OPC UA server with a namespace per PLC, on
127.0.0.1. Outside clients (mbpoll, an HMI, a SCADA) see the tank level move
and can write tags that change the line. Timing is realistic, not
deterministic: asyncio timers wake ~1 ms late; determinism lives in virtual
time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import simpy

from plcsim.aio import cancel_and_wait

from .loading import LoadedScenario
from .virtual import Twin, build, summarise

STEP_S = 0.002  # how often the model is brought up to the wall clock


@dataclass
class Endpoints:
    modbus: dict[str, int] = field(default_factory=dict)  # plc -> port on 127.0.0.1
    opcua: str = ""
    opcua_namespaces: dict[str, str] = field(default_factory=dict)


@dataclass
class RealtimeTwin:
    twin: Twin
    endpoints: Endpoints
    loaded: LoadedScenario
    _servers: list = field(default_factory=list)
    _task: asyncio.Task | None = None
    _t0: float = 0.0
    stopped_by: str | None = None

    @property
    def now_ms(self) -> float:
        return self.twin.env.now

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for s in self._servers:
            await s.stop()
        self._servers.clear()

    def result(self) -> dict[str, Any]:
        return summarise(self.loaded, self.twin, 0, self.stopped_by, detail=False)


async def start_realtime(loaded: LoadedScenario, *, host: str = "127.0.0.1", with_opcua: bool = True,
                         speed: float = 1.0) -> RealtimeTwin:
    """Build the twin, start its servers and its pacing task; return at once."""
    from plcsim.protocols.modbus_server import start_modbus_server

    # a live session measures from its start: no warm-up window
    sc = loaded.scenario
    loaded = dataclasses.replace(loaded, scenario=sc.model_copy(
        update={"run": sc.run.model_copy(update={"warmup": 0.0})}))
    twin = build(loaded, 0, detail=False, skip_idle_scans=False, env=simpy.Environment(initial_time=0.0))
    eps = Endpoints()
    rt = RealtimeTwin(twin, eps, loaded)
    try:
        for name, plc in twin.plcs.items():
            port = loaded.plcs.plcs[name].modbus_port
            h = await start_modbus_server(plc, host, port)
            rt._servers.append(h)
            eps.modbus[name] = h.port
        if with_opcua:
            from plcsim.protocols.opcua_server import start_opcua_server

            ports = [s.opcua_port for s in loaded.plcs.plcs.values() if s.opcua_port]
            h = await start_opcua_server(list(twin.plcs.values()), f"opc.tcp://{host}:{ports[0] if ports else 0}")
            rt._servers.append(h)
            eps.opcua = h.endpoint
            eps.opcua_namespaces = dict(getattr(h, "namespaces", {}) or {})
    except BaseException:
        await rt.stop()
        raise
    twin.line.start()
    rt._t0 = time.monotonic()
    rt._task = asyncio.get_running_loop().create_task(_pace(rt, speed))
    return rt


async def _pace(rt: RealtimeTwin, speed: float) -> None:
    env = rt.twin.env
    while True:
        target = (time.monotonic() - rt._t0) * 1000.0 * speed
        if target > env.now:
            env.run(until=target)
        await asyncio.sleep(STEP_S)


async def run_realtime(loaded: LoadedScenario, *, duration_s: float | None = None,
                       on_ready: Callable[[RealtimeTwin], None] | None = None) -> dict[str, Any]:
    rt = await start_realtime(loaded)
    try:
        if on_ready is not None:
            on_ready(rt)
        if duration_s is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration_s)
    finally:
        await rt.stop()
    return rt.result()


def run_realtime_cli(loaded: LoadedScenario, *, quiet: bool = False) -> int:
    """`twin run --realtime`: serve until the scenario's duration passes or Ctrl-C."""
    import click

    def ready(rt: RealtimeTwin) -> None:
        click.echo(f"{loaded.scenario.metadata.id}: real time, serving on 127.0.0.1 (Ctrl-C to stop)")
        for name, port in rt.endpoints.modbus.items():
            click.echo(f"  {name:<12} modbus tcp://127.0.0.1:{port}")
        if rt.endpoints.opcua:
            click.echo(f"  opcua        {rt.endpoints.opcua}  (one namespace per PLC)")

    duration = loaded.scenario.run.duration / 1000.0
    try:
        result = asyncio.run(run_realtime(loaded, duration_s=duration, on_ready=ready))
    except KeyboardInterrupt:
        click.echo("stopped")
        return 0
    except OSError as exc:
        click.echo(f"twin: cannot serve: {exc.strerror or exc}", err=True)
        return 2
    if not quiet:
        k = result["kpis"]
        click.echo(f"ran {result['end_ms'] / 1000:.0f} s: OEE {100 * k['oee']:.1f} %, "
                   f"throughput {k['throughput_per_h']:.0f}/h")
    return 0 if all(v["ok"] for v in result["invariants"].values()) else 1
