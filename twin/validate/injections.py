"""Faults and attacks on a timeline, applied alike to the baseline and the candidate run.

Attacks (ATT&CK for ICS techniques) reach the PLC as real decoded Modbus
requests through Plc.handle, the path a network client takes; their targets
come only from the scenario's own PLCs.
"""

from __future__ import annotations

from typing import Any

from plcsim import requests as rq
from plcsim.iec_types import encode_registers

from ..model import Injection


def schedule(twin, injections: list[Injection]) -> None:
    for inj in injections:
        twin.env.process(_apply(twin, inj))


def _apply(twin, inj: Injection):
    env, line = twin.env, twin.line
    yield env.timeout(max(0.0, inj.at - env.now))
    if inj.technique is not None:
        results = [_attack_write(twin, inj.from_, inj.to, tag, value) for tag, value in (inj.set or {}).items()]
        line.event("attack", technique=inj.technique, to=inj.to, set=dict(inj.set or {}),
                   accepted=all(results))
        return
    if inj.fault == "station_failure":
        line.event("fault_injected", fault=inj.fault, station=inj.station, for_s=inj.for_ / 1000)
        line.stations[inj.station].inject_breakdown(inj.for_)
    elif inj.fault in ("estop", "guard_open"):
        sig = line.board["safety.estop_ok" if inj.fault == "estop" else "safety.guard_closed"]
        line.event("fault_injected", fault=inj.fault, for_s=(inj.for_ or 0) / 1000)
        sig.set(False)
        if inj.for_:
            yield env.timeout(inj.for_)
            sig.set(True)
    elif inj.fault == "pump_stuck_on":
        line.event("fault_injected", fault=inj.fault, for_s=(inj.for_ or 0) / 1000)
        line.tank.force_pump(True)
        if inj.for_:
            yield env.timeout(inj.for_)
            line.tank.force_pump(None)
    elif inj.fault == "level_sensor_stuck":
        line.event("fault_injected", fault=inj.fault, value=inj.value, for_s=(inj.for_ or 0) / 1000)
        line.tank.sensor_stuck = inj.value if inj.value is not None else line.tank.level_pct
        if inj.for_:
            yield env.timeout(inj.for_)
            line.tank.sensor_stuck = None


def _attack_write(twin, src: str | None, dst: str, tag: str, value: Any) -> bool:
    """Write a tag the way a Modbus client would: FC 16 to its holding registers (or FC 5 to a coil),
    from the attacking host through the firewall model when the scenario has one."""
    plc = twin.plcs[dst]
    t = plc.tag(tag)
    loc = plc.modbus_map.address_of(t.path)
    if loc is None:  # not on Modbus: the attacker cannot reach it this way
        return False
    table, address = loc
    if table == "coils":
        req = rq.ModbusRequest(function_code=5, address=address, values=(0xFF00 if value else 0,))
    else:
        regs = encode_registers(t.type, t.type.normalise(value))
        req = rq.ModbusRequest(function_code=16, address=address, count=len(regs), values=tuple(regs))
    if src is not None and twin.gateway is not None and twin.gateway.policy is not None:
        resp = twin.gateway.send(src, dst, req)
        return resp is not None and resp.ok
    return plc.handle(req).ok
