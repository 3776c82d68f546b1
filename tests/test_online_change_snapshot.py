"""Online change keeps named state; snapshot -> changes -> restore gives identical state."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plcsim.runtime import RUN, STOP, Plc

V1 = """
PROGRAM Main
VAR
  run_cmd AT %IX0.0 : BOOL;
  motor AT %QX0.0 : BOOL;
  count : INT;
  level : REAL := 10.0;
  t : TON;
  hist : ARRAY[0..3] OF INT;
END_VAR
VAR RETAIN
  total : DINT;
END_VAR
VAR CONSTANT
  STEP : INT := 1;
END_VAR
t(IN := run_cmd, PT := T#50ms);
motor := t.Q;
IF motor THEN count := count + STEP; total := total + 1; END_IF;
hist[count MOD 4] := count;
level := level + 0.5;
END_PROGRAM
"""

# v2: count changes type (INT -> DINT), a variable is added, the constant changes
V2 = V1.replace("count : INT;", "count : DINT;\n  extra : INT := 42;").replace("hist : ARRAY[0..3] OF INT", "hist : ARRAY[0..3] OF DINT").replace("STEP : INT := 1;", "STEP : INT := 5;")


def run(p, start, n, cycle=10):
    for k in range(n):
        p.scan(start + k * cycle)
    return start + n * cycle


def test_online_change_takes_effect_at_scan_boundary_and_keeps_state():
    p = Plc(V1, name="filler", version="v1")
    p.set_input("run_cmd", True)
    t = run(p, 0, 20)
    before = p.values()
    old_hash = p.program_hash
    p.load(V2, version="v2")
    # staged, not yet active: the running program is untouched until the next scan
    assert p.version == "v1" and p.program_hash == old_hash and p.values() == before
    p.scan(t)
    assert p.version == "v2" and p.program_hash != old_hash
    after = p.values()
    assert after["Main.level"] == before["Main.level"] + 0.5     # same name+type: kept
    assert after["Main.total"] == before["Main.total"] + 1       # RETAIN: kept
    assert after["Main.t.ET"] == 50 and after["Main.t.Q"] is True  # timer state carried over
    assert after["Main.hist"][:2] != [0, 0]
    assert after["Main.count"] == 5                              # type changed: re-initialised, then +STEP(5)
    assert after["Main.extra"] == 42 and after["Main.STEP"] == 5   # new var and new constant value
    assert p.read("run_cmd") is True                             # the input stays driven


def test_snapshot_restore_is_byte_identical_including_after_online_change():
    p = Plc(V1, name="filler")
    p.set_input("run_cmd", True)
    t = run(p, 0, 10)
    snap = p.snapshot()
    t = run(p, t, 7)
    p.load(V2, version="v2")
    t = run(p, t, 5)
    p.write("level", 99.0)
    p.stop()
    assert p.snapshot() != snap
    p.restore(snap)
    assert p.snapshot() == snap
    assert p.mode == RUN and p.program.source == V1
    # and the restored PLC continues exactly as the original did
    q = Plc(V1, name="filler")
    q.set_input("run_cmd", True)
    run(q, 0, 10)
    run(p, 100, 5)
    run(q, 100, 5)
    assert p.snapshot() == q.snapshot()


def test_snapshot_taken_with_a_pending_online_change_restores_it():
    p = Plc(V1)
    p.scan(0)
    p.load(V2, version="v2")
    snap = p.snapshot()
    p.scan(10)
    assert p.version == "v2"
    p.restore(snap)
    assert p.version != "v2" and p.snapshot() == snap
    p.scan(10)
    assert p.version == "v2"


def test_warm_restart_keeps_retain_cold_resets():
    p = Plc(V1)
    p.set_input("run_cmd", True)
    run(p, 0, 20)
    total, count = p.read("total"), p.read("count")
    assert total > 0 and count > 0
    p.restart()
    assert p.read("total") == total and p.read("count") == 0
    p.restart(cold=True)
    assert p.read("total") == 0


def test_stop_puts_outputs_in_safe_state():
    from plcsim.config import PlcConfig

    p = Plc(V1, config=PlcConfig(safe_state={}))
    p.set_input("run_cmd", True)
    run(p, 0, 10)
    assert p.outputs() == {"Main.motor": True}
    p.stop()
    assert p.outputs() == {"Main.motor": False}
    assert p.read("motor") is True  # memory is kept; only the physical output is safe
    n = p.diag.scan_count
    run(p, 200, 3)
    assert p.diag.scan_count == n  # STOP does not execute
    p.start()
    assert p.mode == RUN and p.outputs() == {"Main.motor": True}
    p2 = Plc(V1, config=PlcConfig(safe_state={"motor": True}))
    p2.stop()
    assert p2.outputs() == {"Main.motor": True}


writes = st.lists(
    st.tuples(st.sampled_from(["count", "level", "total", "run_cmd", "hist"]), st.integers(-40000, 40000)),
    max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=writes, after=writes, scans=st.integers(0, 30), online=st.booleans())
def test_snapshot_restore_property(before, after, scans, online):
    p = Plc(V1)

    def apply(ws):
        for name, v in ws:
            tag = p.tag(name)
            if tag.is_array:
                p.write(name, [v % 100] * 4)
            elif tag.type.kind == "bool":
                p.write(name, bool(v % 2))
            elif tag.type.kind == "real":
                p.write(name, v / 7)
            else:
                p.write(name, max(tag.type.min, min(tag.type.max, v)))

    apply(before)
    t = run(p, 0, scans)
    snap = p.snapshot()
    h = p.state_hash()
    apply(after)
    if online:
        p.load(V2)
    run(p, t, 3)
    p.restore(snap)
    assert p.state_hash() == h and p.snapshot() == snap
