"""The four PLC programs of the reference bottling line, run as compiled ST on the virtual clock.

Every test drives a real ``Plc`` with a 10 ms cycle, scanning at t = 0, 10, 20, ...
Inputs set before a scan are latched by that scan, so "the scan that sees X" is the
first scan after X was set. Timing assertions are exact on that grid.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from plcsim.runtime import Plc
from plcsim.st.compiler import CompiledProgram, compile_file

PLC_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "bottling" / "plc"
CYCLE_MS = 10

FILLER_VARIANTS = ["filler.st", "filler_v2_refill.st", "filler_v2_slow_fill.st", "filler_v2_no_hh.st"]
ALL_FILES = FILLER_VARIANTS + ["capper.st", "qa.st", "line.st"]


@lru_cache(maxsize=None)
def compiled(file: str) -> CompiledProgram:
    return compile_file(PLC_DIR / file)


class Rig:
    """One PLC on the virtual clock; ``scan`` sets inputs, then runs n scans on the 10 ms grid."""

    def __init__(self, file: str, name: str) -> None:
        self.plc = Plc(compiled(file), name=name, cycle_ms=CYCLE_MS)
        self.t: int | None = None  # time of the last scan

    def scan(self, n: int = 1, **inputs) -> "Rig":
        for tag, value in inputs.items():
            self.plc.set_input(tag, value)
        for _ in range(n):
            self.t = 0 if self.t is None else self.t + CYCLE_MS
            self.plc.scan(self.t)
        return self

    def until(self, tag: str, value, limit: int = 2000) -> int:
        """Scan until ``tag`` reads ``value``; return the time of that scan."""
        for _ in range(limit):
            self.scan()
            if self[tag] == value:
                return self.t
        raise AssertionError(f"{tag} never became {value!r} within {limit} scans")

    def __getitem__(self, tag: str):
        return self.plc.read(tag)

    def __setitem__(self, tag: str, value) -> None:
        self.plc.write(tag, value)  # an HMI / engineering write between scans


# ------------------------------------------------------------------ interface

# (name, location, type): the line model binds to exactly these.
INTERFACE = {
    "filler.st": [
        ("level", "%IW0", "INT"), ("bottle_in_place", "%IX0.0", "BOOL"), ("line_running", "%IX0.1", "BOOL"),
        ("inlet_pump", "%QX0.0", "BOOL"), ("inlet_valve", "%QX0.1", "BOOL"), ("fill_valve", "%QX0.2", "BOOL"),
        ("release", "%QX0.3", "BOOL"), ("hh_alarm", "%QX0.4", "BOOL"),
        ("level_lo_sp", "%MD0", "REAL"), ("level_hi_sp", "%MD1", "REAL"), ("level_hh_sp", "%MD2", "REAL"),
        ("fill_time_ms", "%MD3", "DINT"), ("min_level_sp", "%MD4", "REAL"),
        ("bottles_filled", "%QW0", "INT"), ("state", "%QW1", "INT"),
    ],
    "capper.st": [
        ("bottle_at_capper", "%IX0.0", "BOOL"), ("line_running", "%IX0.1", "BOOL"), ("capper_fault", "%IX0.2", "BOOL"),
        ("capper_run", "%QX0.0", "BOOL"), ("capper_alarm", "%QX0.1", "BOOL"), ("caps_applied", "%QW0", "INT"),
    ],
    "qa.st": [
        ("bottle_at_gate", "%IX0.0", "BOOL"), ("defect_detected", "%IX0.1", "BOOL"), ("line_running", "%IX0.2", "BOOL"),
        ("reject_gate", "%QX0.0", "BOOL"), ("inspected", "%QW0", "INT"), ("rejected", "%QW1", "INT"),
    ],
    "line.st": [
        ("estop_ok", "%IX0.0", "BOOL"), ("guard_closed", "%IX0.1", "BOOL"), ("start_pb", "%IX0.2", "BOOL"),
        ("stop_pb", "%IX0.3", "BOOL"), ("conveyor_run", "%QX0.0", "BOOL"), ("running_lamp", "%QX0.1", "BOOL"),
        ("horn", "%QX0.2", "BOOL"), ("hmi_start", "%QX1.0", "BOOL"), ("hmi_stop", "%QX1.1", "BOOL"),
        ("starts", "%QW0", "INT"), ("stops", "%QW1", "INT"), ("stop_reason", "%QW2", "INT"),
    ],
}
PROGRAM_NAMES = {"capper.st": "Capper", "qa.st": "QA", "line.st": "Line"} | {f: "Filler" for f in FILLER_VARIANTS}


@pytest.mark.parametrize("file", ALL_FILES)
def test_program_compiles_with_the_agreed_interface(file):
    cp = compiled(file)  # what `plcsim check` does; raises on any error
    assert cp.name == PROGRAM_NAMES[file]
    plc = Plc(cp, cycle_ms=CYCLE_MS)
    expected = INTERFACE["filler.st" if file in FILLER_VARIANTS else file]
    for name, loc, typ in expected:
        tag = plc.tag(name)
        assert (str(tag.location), tag.type.name) == (loc, typ), name
    # nothing else is located: the Modbus map is exactly the agreed one
    located = {t.path.split(".", 1)[1] for t in plc.tags if t.location is not None}
    assert located == {name for name, _loc, _typ in expected}


# --------------------------------------------------------------------- filler

def filler(file: str = "filler.st", *, level: int = 7000, line_running: bool = True) -> Rig:
    return Rig(file, "filler_plc").scan(level=level, line_running=line_running, bottle_in_place=False)


def inlet(r: Rig) -> tuple[bool, bool]:
    return r["inlet_pump"], r["inlet_valve"]


def test_setpoint_defaults():
    r = filler()
    assert r["level_lo_sp"] == 60.0 and r["level_hi_sp"] == 80.0 and r["level_hh_sp"] == 95.0
    assert r["fill_time_ms"] == 250 and r["min_level_sp"] == 5.0


def test_refill_hysteresis_both_edges():
    r = filler(level=7000)
    assert inlet(r) == (False, False)  # inside the band at power-up: no demand yet
    assert inlet(r.scan(level=6000)) == (False, False)  # 60.00 % is not below lo
    assert inlet(r.scan(level=5999)) == (True, True)  # first count below lo: on in this scan
    assert inlet(r.scan(level=7000)) == (True, True)  # inside the band: holds
    assert inlet(r.scan(level=8000)) == (True, True)  # 80.00 % is not above hi
    assert inlet(r.scan(level=8001)) == (False, False)  # first count above hi: off in this scan
    assert inlet(r.scan(level=7000)) == (False, False)  # inside the band: stays off
    assert inlet(r.scan(level=5999)) == (True, True)
    assert r["hh_alarm"] is False


def test_setpoints_written_from_the_hmi_take_effect_next_scan():
    r = filler(level=6250)
    r["level_lo_sp"] = 62.5  # e.g. a Modbus write to holding registers 2048-2049
    assert inlet(r.scan()) == (False, False)
    assert inlet(r.scan(level=6249)) == (True, True)


@pytest.mark.parametrize("file", ["filler.st", "filler_v2_refill.st", "filler_v2_slow_fill.st"])
def test_hh_trip_latches_and_clears_below_hi(file):
    r = filler(file, level=7000)
    hi = r["level_hi_sp"]
    assert r["hh_alarm"] is False
    r.scan(level=9499)
    assert r["hh_alarm"] is False
    r.scan(level=9500)  # 95.00 % >= hh: trip in this scan
    assert r["hh_alarm"] is True and inlet(r) == (False, False)
    r.scan(level=9000)  # below hh but above hi: still latched
    assert r["hh_alarm"] is True and inlet(r) == (False, False)
    r.scan(level=int(hi * 100))  # at hi: not below it yet
    assert r["hh_alarm"] is True
    r.scan(level=int(hi * 100) - 1)
    assert r["hh_alarm"] is False and inlet(r) == (False, False)  # above lo: no refill demand


def test_hh_trip_closes_the_inlet_valve_even_with_the_pump_forced_on():
    """hi mis-set to 99 % (the hysteresis alone would keep filling) and the pump coil forced on."""
    r = filler(level=5000)
    r["level_hi_sp"] = 99.0
    r.scan(level=9000)
    assert inlet(r) == (True, True)
    r.scan(level=9499)
    assert inlet(r) == (True, True)
    for level in (9500, 9600, 9700, 9600):
        r["inlet_pump"] = True  # something outside the program keeps driving the pump
        r.scan(level=level)
        r["inlet_pump"] = True  # ... also between scans, as the plant sees it
        out = r.plc.outputs()
        assert out["Filler.inlet_valve"] is False and r["hh_alarm"] is True
        assert not (out["Filler.inlet_pump"] and out["Filler.inlet_valve"])  # no product flows


def test_hh_trip_cancels_refill_demand_so_the_inlet_does_not_chatter_at_the_trip_point():
    r = filler(level=5000)
    r["level_hi_sp"] = 99.0  # hi above hh: the trip, not the hysteresis, ends this refill
    r.scan(level=9500)
    assert r["hh_alarm"] is True and inlet(r) == (False, False)
    r.scan(level=9499)  # below hi (99 %) again: the alarm clears ...
    assert r["hh_alarm"] is False
    assert inlet(r) == (False, False)  # ... but the refill waits for lo
    r.scan(level=6000)
    assert inlet(r) == (False, False)
    r.scan(level=5999)
    assert inlet(r) == (True, True)


def test_hh_alarm_coil_write_cannot_reset_the_trip():
    r = filler(level=9600)
    assert r["hh_alarm"] is True
    r["hh_alarm"] = False  # e.g. a Modbus write to coil 4
    r.scan(level=9000)
    assert r["hh_alarm"] is True


def test_hh_setpoint_written_as_nan_trips_instead_of_disabling_the_trip():
    r = filler(level=5000)
    assert inlet(r) == (True, True)
    r["level_hh_sp"] = float("nan")
    r.scan()
    assert r["hh_alarm"] is True and inlet(r) == (False, False)


def test_no_hh_variant_keeps_filling_past_the_trip_point():
    """The attack of the scenario (level_hi_sp := 200 %): v1 trips at 95 %, no_hh does not."""
    base, bad = filler("filler.st", level=5000), filler("filler_v2_no_hh.st", level=5000)
    for r in (base, bad):
        r["level_hi_sp"] = 200.0
        r.scan(level=9600)
    assert inlet(base) == (False, False) and base["hh_alarm"] is True
    assert inlet(bad) == (True, True) and bad["hh_alarm"] is False
    bad.scan(level=10000)
    assert inlet(bad) == (True, True) and bad["hh_alarm"] is False


def test_no_hh_variant_keeps_the_hysteresis():
    r = filler("filler_v2_no_hh.st", level=7000)
    assert inlet(r.scan(level=5999)) == (True, True)
    assert inlet(r.scan(level=8000)) == (True, True)
    assert inlet(r.scan(level=8001)) == (False, False)


def test_refill_variant_thresholds():
    r = filler("filler_v2_refill.st", level=7000)
    assert (r["level_lo_sp"], r["level_hi_sp"], r["level_hh_sp"]) == (65.0, 85.0, 95.0)
    assert inlet(r.scan(level=6500)) == (False, False)
    assert inlet(r.scan(level=6499)) == (True, True)  # v1 would still wait for 60 %
    assert inlet(r.scan(level=8001)) == (True, True)  # v1 would have stopped
    assert inlet(r.scan(level=8500)) == (True, True)
    assert inlet(r.scan(level=8501)) == (False, False)


def test_variant_defaults_need_a_download_not_an_online_change():
    """Online change keeps the running setpoint values (as on a real PLC): loading the
    refill variant into a running v1 does not move the band; a fresh download does."""
    r = filler("filler.st", level=7000)
    r.plc.load(compiled("filler_v2_refill.st"))
    r.scan()
    assert (r["level_lo_sp"], r["level_hi_sp"]) == (60.0, 80.0)
    fresh = filler("filler_v2_refill.st")
    assert (fresh["level_lo_sp"], fresh["level_hi_sp"]) == (65.0, 85.0)


def fill_one(r: Rig, *, leave_after_ms: int = 50) -> int:
    """Put a bottle under the nozzle, let the line take it once released; return ms the valve was open."""
    r.scan(bottle_in_place=True)
    assert r["fill_valve"] is True and r["state"] == 1
    opened = r.t
    closed = r.until("fill_valve", False)
    assert r["release"] is True and r["state"] == 2  # release in the very scan the valve closes
    r.scan(leave_after_ms // CYCLE_MS)
    assert r["release"] is True  # held until the line takes the bottle
    r.scan(bottle_in_place=False)
    assert r["release"] is False and r["state"] == 0
    return closed - opened


@pytest.mark.parametrize("file, dwell", [
    ("filler.st", 250), ("filler_v2_refill.st", 250), ("filler_v2_no_hh.st", 250), ("filler_v2_slow_fill.st", 300),
])
def test_fill_dwell_is_exact(file, dwell):
    r = filler(file)
    r.scan(9)
    assert fill_one(r) == dwell
    assert r["bottles_filled"] == 1
    # the next bottle one scan after the last one left: the dwell timer restarts cleanly
    assert fill_one(r) == dwell
    assert r["bottles_filled"] == 2


def test_fill_valve_trace_on_the_scan_grid():
    r = filler()  # t = 0
    r.scan(bottle_in_place=True)  # t = 10
    trace = []
    for _ in range(30):
        trace.append((r.t, r["fill_valve"], r["release"]))
        r.scan()
    opened = [t for t, valve, _ in trace if valve]
    assert opened == list(range(10, 260, 10))  # 25 scans: open at 10, closed by the scan at 260
    assert [t for t, _, rel in trace if rel][0] == 260


def test_fill_time_off_the_scan_grid_rounds_up_to_the_next_scan():
    r = filler()
    r["fill_time_ms"] = 255
    assert fill_one(r) == 260


def test_no_fill_below_min_level():
    r = filler(level=499)  # 4.99 % < 5 %
    r.scan(50, bottle_in_place=True)
    assert r["fill_valve"] is False and r["state"] == 0 and r["release"] is False
    r.scan(level=500)
    assert r["fill_valve"] is True and r["state"] == 1


def test_level_dropping_below_min_mid_fill_does_not_abort_it():
    r = filler(level=600)
    r.scan(bottle_in_place=True)
    opened = r.t
    r.scan(level=100)
    assert r["fill_valve"] is True
    assert r.until("fill_valve", False) - opened == 250 and r["release"] is True


def test_no_fill_without_line_running():
    r = filler(line_running=False)
    r.scan(50, bottle_in_place=True)
    assert r["fill_valve"] is False and r["state"] == 0
    r.scan(line_running=True)
    assert r["fill_valve"] is True and r["state"] == 1


def test_line_stop_mid_fill_closes_the_valve_holds_and_restarts_the_dwell():
    r = filler()
    r.scan(bottle_in_place=True)
    r.scan(10)  # 100 ms into the fill
    assert r["fill_valve"] is True
    r.scan(line_running=False)
    assert r["fill_valve"] is False and r["state"] == 1 and r["release"] is False
    r.scan(50)  # held, part-filled bottle is not released
    assert r["fill_valve"] is False and r["state"] == 1 and r["release"] is False
    r.scan(line_running=True)
    assert r["fill_valve"] is True
    restarted = r.t
    assert r.until("fill_valve", False) - restarted == 250  # a full dwell from the restart
    assert r["release"] is True


def test_fill_valve_never_open_without_a_bottle():
    r = filler()
    r.scan(bottle_in_place=True)
    r.scan(5)
    assert r["fill_valve"] is True
    r.scan(bottle_in_place=False)  # bottle knocked off mid-fill
    assert r["fill_valve"] is False and r["state"] == 0 and r["release"] is False
    assert r["bottles_filled"] == 0  # an aborted fill is not a filled bottle
    for _ in range(50):
        r.scan()
        assert r["fill_valve"] is False


def test_release_waits_for_the_line_even_if_it_stops():
    r = filler()
    r.scan(bottle_in_place=True)
    r.until("release", True)
    r.scan(100, line_running=False)
    assert r["release"] is True and r["fill_valve"] is False and r["bottles_filled"] == 0
    r.scan(line_running=True, bottle_in_place=False)
    assert r["release"] is False and r["bottles_filled"] == 1 and r["state"] == 0


def test_tank_and_nozzle_are_independent():
    r = filler(level=5999)
    assert inlet(r) == (True, True)
    r.scan(bottle_in_place=True)
    assert r["fill_valve"] is True and inlet(r) == (True, True)
    r.scan(level=9600)
    assert r["fill_valve"] is True and inlet(r) == (False, False) and r["hh_alarm"] is True


# --------------------------------------------------------------------- capper

def capper() -> Rig:
    return Rig("capper.st", "capper_plc").scan(bottle_at_capper=False, line_running=True, capper_fault=False)


@pytest.mark.parametrize("running, fault, run", [(True, False, True), (True, True, False),
                                                 (False, False, False), (False, True, False)])
def test_capper_run_permissive(running, fault, run):
    r = capper()
    r.scan(line_running=running, capper_fault=fault)
    assert r["capper_run"] is run  # in the scan that sees the inputs


def test_capper_alarm_after_5_s_of_fault():
    r = capper()
    r.scan(capper_fault=True)
    t0 = r.t
    while r.t < t0 + 4990:
        r.scan()
        assert r["capper_alarm"] is False
    r.scan()
    assert r.t == t0 + 5000 and r["capper_alarm"] is True
    r.scan(capper_fault=False)
    assert r["capper_alarm"] is False and r["capper_run"] is True


def test_capper_short_faults_do_not_add_up():
    r = capper()
    r.scan(400, capper_fault=True)  # 4 s
    r.scan(capper_fault=False)
    r.scan(capper_fault=True)
    r.scan(499)
    assert r["capper_alarm"] is False
    r.scan()
    assert r["capper_alarm"] is True


def test_caps_counted_once_per_bottle_while_running():
    r = capper()
    for n in range(1, 4):
        r.scan(bottle_at_capper=True)
        assert r["caps_applied"] == n  # counted on the arrival scan
        r.scan(20)
        r.scan(2, bottle_at_capper=False)
    assert r["caps_applied"] == 3


def test_caps_not_counted_while_held_and_not_twice_across_a_stop():
    r = capper()
    r.scan(capper_fault=True)
    r.scan(10, bottle_at_capper=True)
    assert r["caps_applied"] == 0 and r["capper_run"] is False
    r.scan(capper_fault=False)  # permissive back: the capper caps the waiting bottle
    assert r["caps_applied"] == 1
    r.scan(5, line_running=False)
    r.scan(5, line_running=True)  # same bottle still in the head
    assert r["caps_applied"] == 1
    r.scan(bottle_at_capper=False)
    r.scan(bottle_at_capper=True)
    assert r["caps_applied"] == 2


# ------------------------------------------------------------------------- QA

def qa() -> Rig:
    return Rig("qa.st", "qa_plc").scan(bottle_at_gate=False, defect_detected=False, line_running=True)


def pass_bottle(r: Rig, defect: bool, hold_scans: int = 15) -> list[bool]:
    """A bottle arrives, is held at the gate for hold_scans scans, then leaves.

    Returns reject_gate as the line sees it at each scan while the bottle is there;
    the last entry is the value at the moment the bottle leaves."""
    seen = []
    r.scan(bottle_at_gate=True, defect_detected=defect)
    seen.append(r["reject_gate"])
    for _ in range(hold_scans - 1):
        r.scan()
        seen.append(r["reject_gate"])
    r.scan(bottle_at_gate=False, defect_detected=False)
    return seen


def test_good_bottle_never_raises_the_gate():
    r = qa()
    assert pass_bottle(r, defect=False) == [False] * 15
    assert r["reject_gate"] is False and (r["inspected"], r["rejected"]) == (1, 0)


def test_defective_bottle_holds_the_gate_until_it_has_left():
    r = qa()
    seen = pass_bottle(r, defect=True, hold_scans=40)
    assert seen == [True] * 40  # raised on the arrival scan, up when the bottle leaves
    assert r["reject_gate"] is False  # dropped in the scan that sees it gone
    assert (r["inspected"], r["rejected"]) == (1, 1)


def test_gate_stays_up_if_the_verdict_flickers_or_the_line_stops():
    r = qa()
    r.scan(bottle_at_gate=True, defect_detected=True)
    r.scan(5, defect_detected=False)
    assert r["reject_gate"] is True
    r.scan(100, line_running=False)
    assert r["reject_gate"] is True
    r.scan(line_running=True, bottle_at_gate=False)
    assert r["reject_gate"] is False and r["rejected"] == 1


def test_late_verdict_still_rejects_and_counts_once():
    r = qa()
    r.scan(bottle_at_gate=True)
    assert r["reject_gate"] is False
    r.scan(defect_detected=True)
    assert r["reject_gate"] is True
    r.scan(5)
    r.scan(bottle_at_gate=False, defect_detected=False)
    assert (r["inspected"], r["rejected"]) == (1, 1)


def test_gate_coil_write_cannot_wave_a_bad_bottle_through():
    r = qa()
    r.scan(bottle_at_gate=True, defect_detected=True)
    r["reject_gate"] = False  # e.g. a Modbus write to coil 0
    r.scan()
    assert r["reject_gate"] is True


def test_mixed_stream_counts():
    r = qa()
    pattern = [False, True, False, False, True, True, False]
    for defect in pattern:
        seen = pass_bottle(r, defect)
        assert all(v is defect for v in seen)
        r.scan()
    assert (r["inspected"], r["rejected"]) == (len(pattern), sum(pattern))


# ----------------------------------------------------------------------- line

def line(*, estop_ok: bool = True, guard_closed: bool = True) -> Rig:
    return Rig("line.st", "line_plc").scan(estop_ok=estop_ok, guard_closed=guard_closed,
                                           start_pb=False, stop_pb=False)


def press(r: Rig, button: str) -> Rig:
    """A push button pressed for one scan and released."""
    r.scan(**{button: True})
    return r.scan(**{button: False})


def start(r: Rig) -> None:
    """Start the line with the push button: horn for exactly 2 s, then motion."""
    r.scan(start_pb=True)
    requested = r.t
    assert r["horn"] is True and r["conveyor_run"] is False
    r.scan(start_pb=False)
    assert r.until("conveyor_run", True) == requested + 2000
    assert outputs(r) == (True, True, False)


def outputs(r: Rig) -> tuple[bool, bool, bool]:
    return r["conveyor_run"], r["running_lamp"], r["horn"]


def test_start_sounds_the_horn_for_2_s_before_motion():
    r = line()
    r.scan(start_pb=True)
    t0 = r.t
    assert outputs(r) == (False, False, True)
    r.scan(start_pb=False)
    while r.t < t0 + 1990:
        assert outputs(r) == (False, False, True)
        r.scan()
    assert outputs(r) == (False, False, True)
    r.scan()
    assert r.t == t0 + 2000 and outputs(r) == (True, True, False)
    assert (r["starts"], r["stops"], r["stop_reason"]) == (1, 0, 0)


@pytest.mark.parametrize("tag, reason", [("guard_closed", 2), ("estop_ok", 1)])
def test_loss_of_permissive_stops_in_the_same_scan_and_does_not_auto_restart(tag, reason):
    r = line()
    start(r)
    r.scan(10)
    r.scan(**{tag: False})
    assert outputs(r) == (False, False, False)  # the very scan that sees it
    assert (r["stops"], r["stop_reason"]) == (1, reason)
    r.scan(50)
    r.scan(**{tag: True})
    for _ in range(500):  # 5 s with the permissive back: nothing moves, no horn
        r.scan()
        assert outputs(r) == (False, False, False)
    start(r)  # a new start request: horn, then motion
    assert (r["starts"], r["stops"], r["stop_reason"]) == (2, 1, 0)


def test_estop_reported_before_guard_when_both_open():
    r = line()
    start(r)
    r.scan(estop_ok=False, guard_closed=False)
    assert r["conveyor_run"] is False and r["stop_reason"] == 1


def test_conveyor_run_is_gated_by_the_permissive_every_scan():
    r = line()
    start(r)
    for _ in range(20):
        r.scan(guard_closed=False)
        assert r["conveyor_run"] is False
    r.scan(guard_closed=True, estop_ok=False)
    assert r["conveyor_run"] is False


def test_stop_pushbutton_stops_at_once():
    r = line()
    start(r)
    r.scan(stop_pb=True)
    assert outputs(r) == (False, False, False) and (r["stops"], r["stop_reason"]) == (1, 3)
    r.scan(100, stop_pb=False)
    assert r["conveyor_run"] is False


def test_start_refused_without_permissive_and_not_remembered():
    r = line(guard_closed=False)
    press(r, "start_pb")
    assert outputs(r) == (False, False, False)
    r.scan(guard_closed=True)
    r.scan(300)
    assert outputs(r) == (False, False, False) and r["starts"] == 0


@pytest.mark.parametrize("stop", [{"guard_closed": False}, {"estop_ok": False}, {"stop_pb": True}])
def test_stop_during_the_start_warning_cancels_it(stop):
    r = line()
    r.scan(start_pb=True)
    r.scan(100, start_pb=False)
    assert r["horn"] is True
    r.scan(**stop)
    assert outputs(r) == (False, False, False)
    r.scan(estop_ok=True, guard_closed=True, stop_pb=False)
    for _ in range(300):
        r.scan()
        assert outputs(r) == (False, False, False)
    assert r["starts"] == 0 and r["stops"] == 0  # a cancelled warning is not a line stop


def test_held_start_button_does_not_restart_after_a_stop():
    r = line()
    r.scan(start_pb=True)
    r.until("conveyor_run", True)
    r.scan(guard_closed=False)  # start_pb still held
    r.scan(guard_closed=True)
    r.scan(300)
    assert outputs(r) == (False, False, False)
    r.scan(start_pb=False)
    r.scan(start_pb=True)  # released and pressed again: a new request
    assert r["horn"] is True


def test_start_button_held_through_power_up_is_not_a_start():
    r = Rig("line.st", "line_plc").scan(300, estop_ok=True, guard_closed=True, start_pb=True, stop_pb=False)
    assert outputs(r) == (False, False, False)


def test_stop_wins_over_start_in_the_same_scan():
    r = line()
    r.scan(start_pb=True, stop_pb=True)
    assert outputs(r) == (False, False, False)
    r.scan(300, start_pb=False, stop_pb=False)
    assert outputs(r) == (False, False, False)


def test_hmi_start_and_stop_coils_work_and_are_consumed():
    r = line()
    r["hmi_start"] = True  # HMI writes coil 8
    r.scan()
    assert r["hmi_start"] is False and r["horn"] is True
    t0 = r.t
    assert r.until("conveyor_run", True) == t0 + 2000
    r["hmi_start"] = True  # a second start while running is harmless
    r.scan()
    assert r["hmi_start"] is False and r["conveyor_run"] is True and r["starts"] == 1
    r["hmi_stop"] = True  # coil 9
    r.scan()
    assert r["hmi_stop"] is False and outputs(r) == (False, False, False)
    assert (r["stops"], r["stop_reason"]) == (1, 3)
    r.scan(300)
    assert r["conveyor_run"] is False


def test_hmi_command_coils_are_modbus_coils_8_and_9():
    plc = line().plc
    assert plc.tag("hmi_start").location.modbus == ("coils", 8)
    assert plc.tag("hmi_stop").location.modbus == ("coils", 9)
