"""Which signals each station kind exposes, so bindings can be checked before a run."""

from __future__ import annotations

from .line import Line

# name suffix -> (direction, kind); kind "bool" or "real"
STATION_SIGNALS = {
    "source": {},
    "sink": {},
    "machine": {"bottle_present": ("sensor", "bool"), "fault": ("sensor", "bool"), "run": ("actuator", "bool")},
    "filler": {"bottle_in_place": ("sensor", "bool"), "fault": ("sensor", "bool"),
               "fill_valve": ("actuator", "bool"), "release": ("actuator", "bool")},
    "inspection": {"bottle_at_gate": ("sensor", "bool"), "defect_detected": ("sensor", "bool"),
                   "fault": ("sensor", "bool"), "reject_gate": ("actuator", "bool")},
}
LINE_SIGNALS = {
    "conveyors.run": ("actuator", "bool"),
    "conveyors.running": ("sensor", "bool"),
    "safety.estop_ok": ("sensor", "bool"),
    "safety.guard_closed": ("sensor", "bool"),
    "operator.start_pb": ("sensor", "bool"),
    "operator.stop_pb": ("sensor", "bool"),
}
TANK_SIGNALS = {
    "tank.level": ("sensor", "real"),
    "tank.inlet_pump": ("actuator", "bool"),
    "tank.inlet_valve": ("actuator", "bool"),
}


def catalogue(line: Line) -> dict[str, tuple[str, str]]:
    """Every signal name of this line -> (direction, kind)."""
    out = dict(LINE_SIGNALS)
    for name, st in line.stations.items():
        for suffix, spec in STATION_SIGNALS[st.kind].items():
            out[f"{name}.{suffix}"] = spec
    if line.tank is not None:
        out.update(TANK_SIGNALS)
    return out
