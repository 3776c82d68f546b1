"""One replication in virtual time: the line model plus its PLCs on one SimPy clock.

Each PLC is a SimPy process scanning every cycle on the virtual clock
(milliseconds): copy sensors into its input image, scan, copy outputs onto
the line's actuators. Nothing here reads the wall clock, so a replication is
a pure function of (scenario, seed, replication number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import simpy

from plcsim import requests as rq
from plcsim.runtime import Plc

from ..line import kpis
from ..line.model import LineModel
from ..line.streams import Streams
from ..model.signals import catalogue
from . import clients
from .clients import Gateway
from .iolink import InProcessIoLink
from .loading import LoadedScenario
from .scheduler import PlcDriver, ScanContext

PROGRESS_STEP_MS = 600_000.0  # report progress every 10 simulated minutes
HMI_HOST = "hmi"  # the operator's HMI host in the network model


@dataclass
class Twin:
    """A built (not yet run) twin: the environment, the line and the PLCs."""

    env: simpy.Environment
    line: LineModel
    plcs: dict[str, Plc]
    links: dict[str, InProcessIoLink]
    drivers: dict[str, PlcDriver] = field(default_factory=dict)
    started: bool = False
    gateway: Gateway | None = None


def build(loaded: LoadedScenario, replication: int, *, detail: bool = True, skip_idle_scans: bool = True,
          env: simpy.Environment | None = None) -> Twin:
    sc = loaded.scenario
    env = env or simpy.Environment(initial_time=0.0)
    streams = Streams(sc.metadata.seed, replication)
    line = LineModel(env, loaded.line, streams, bound_actuators=loaded.bound_actuators,
                     sample_ms=sc.run.sample, warmup_ms=sc.run.warmup)
    if not detail:
        line.gantt_until = 0.0
    cat = catalogue(loaded.line)
    plcs: dict[str, Plc] = {}
    links: dict[str, InProcessIoLink] = {}
    for name, spec in loaded.plcs.plcs.items():
        plc = Plc(loaded.programs[name], name=name, cycle_ms=int(spec.cycle), config=loaded.plc_configs[name])
        plcs[name] = plc
        links[name] = InProcessIoLink(plc, line.board, list(loaded.line.bindings), cat)
    twin = Twin(env, line, plcs, links)
    # every in-process client request passes the firewall model (when the scenario has one)
    twin.gateway = Gateway(twin, loaded.network)
    line_plc = _driver_of(loaded, "conveyors.run")
    _wire_operator_hmi(twin, line_plc)
    if loaded.network is not None:
        clients.start(twin, twin.gateway, loaded.network)
    ctx = ScanContext()
    board = line.board
    guard, estop = board["safety.guard_closed"], board["safety.estop_ok"]
    for order, (name, plc) in enumerate(plcs.items()):
        after = None
        if name == line_plc:
            # the inputs this scan latched are the signal values at its start (no event in between)
            seen: dict[str, bool] = {}
            links[name].before_pull = lambda seen=seen: seen.update(g=guard.value, e=estop.value)
            after = (lambda seen=seen: line.check_motion(seen["g"], seen["e"]))
        driver = PlcDriver(env, plc, links[name], order, ctx, skip=skip_idle_scans, after_scan=after)
        twin.drivers[name] = driver
        env.process(driver.process())
    return twin


def _driver_of(loaded: LoadedScenario, signal: str) -> str | None:
    for b in loaded.line.bindings:
        if b.signal == signal:
            return b.plc
    return None


def _wire_operator_hmi(twin: Twin, line_plc: str | None) -> None:
    """The operator's HMI start is a real Modbus write (FC 5) to the line PLC's hmi_start coil."""
    if line_plc is None:
        return
    plc = twin.plcs[line_plc]
    try:
        tag = plc.tag("hmi_start")
    except KeyError:
        return
    if tag.location is None:
        return
    _table, address = tag.location.modbus

    def hmi_start() -> bool:
        resp = twin.gateway.send(HMI_HOST, line_plc, rq.ModbusRequest(function_code=5, address=address,
                                                                       values=(0xFF00,)))
        return resp is not None and resp.ok

    twin.line.operator.hmi_start = hmi_start


def run(twin: Twin, until_ms: float, progress: Callable[[float], None] | None = None) -> str | None:
    """Advance to `until_ms`; return the invariant that stopped the run, if one did.

    Starts the line on first use; can be called again to continue.
    """
    env, line = twin.env, twin.line
    if not twin.started:
        line.start()
        twin.started = True
    t = env.now
    while t < until_ms:
        t = min(until_ms, t + PROGRESS_STEP_MS)
        env.run(until=env.any_of([env.timeout(t - env.now), line.stop_event]))
        if line.stop_event.triggered:
            return line.stop_event.value
        if progress is not None:
            progress(t)
    return None


def replicate(loaded: LoadedScenario, replication: int, *, detail: bool = True, skip_idle_scans: bool = True,
              progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Run one replication to the end and summarise it (deterministic data only)."""
    twin = build(loaded, replication, detail=detail, skip_idle_scans=skip_idle_scans)
    stopped_by = run(twin, loaded.scenario.run.duration, progress)
    return summarise(loaded, twin, replication, stopped_by, detail)


def summarise(loaded: LoadedScenario, twin: Twin, replication: int, stopped_by: str | None,
              detail: bool) -> dict[str, Any]:
    line = twin.line
    window = line.finish()
    k = kpis.compute(loaded.line, window["start"], window["end"])
    invariants = {}
    for inv in ("tank_no_overflow", "no_motion_with_guard_open", "rejects_never_packed"):
        vs = [v for v in line.violations if v["invariant"] == inv]
        invariants[inv] = {"ok": not vs, "violations": len(vs), "first_t_ms": vs[0]["t_ms"] if vs else None}
    out = {
        "replication": replication,
        "end_ms": twin.env.now,
        "stopped_by": stopped_by,
        **k,
        "invariants": invariants,
        "violations": line.violations[:5],
        "events": line.events,
        # executed scan counts differ with scan skipping; grid scans are what lockstep would do
        "plcs": {n: {"mode": p.mode, "fault": p.fault, "program": p.program_hash, "version": p.version,
                     "grid_scans": int(twin.env.now // p.cycle_ms) + 1} for n, p in twin.plcs.items()},
        "samples": line.samples,
        "firewall": {"log": twin.gateway.log, "observed": twin.gateway.observed()},
    }
    if detail:
        out["gantt"] = line.gantt()
    return out
