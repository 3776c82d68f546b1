"""Standard function blocks on the virtual clock, at exact boundaries."""

from plcsim.runtime import Plc

DECLS = """
in1 : BOOL; in2 : BOOL; in3 : BOOL; rst : BOOL; ld : BOOL;
ton1 : TON; tof1 : TOF; tp1 : TP; rt : R_TRIG; ft : F_TRIG; cu : CTU; cd : CTD; cud : CTUD; sr1 : SR; rs1 : RS;
"""
BODY = """
ton1(IN := in1, PT := T#100ms);
tof1(IN := in1, PT := T#100ms);
tp1(IN := in1, PT := T#100ms);
rt(CLK := in1); ft(CLK := in1);
cu(CU := in1, R := rst, PV := 3);
cd(CD := in1, LD := ld, PV := 2);
cud(CU := in1, CD := in2, R := rst, LD := ld, PV := 2);
sr1(S1 := in1, R := in2); rs1(S := in1, R1 := in2);
"""


def make():
    return Plc(f"PROGRAM Main VAR {DECLS} END_VAR {BODY} END_PROGRAM", cycle_ms=10)


def at(p, t, **inputs):
    for k, v in inputs.items():
        p.write(k, v)
    p.scan(t)


def test_ton_rises_exactly_at_pt():
    p = make()
    at(p, 0, in1=True)
    at(p, 99)
    assert p.read("ton1.Q") is False and p.read("ton1.ET") == 99
    at(p, 100)
    assert p.read("ton1.Q") is True and p.read("ton1.ET") == 100
    at(p, 250)
    assert p.read("ton1.ET") == 100  # ET saturates at PT
    at(p, 260, in1=False)
    assert p.read("ton1.Q") is False and p.read("ton1.ET") == 0


def test_ton_restarts_after_short_pulse():
    p = make()
    at(p, 0, in1=True)
    at(p, 50, in1=False)
    at(p, 60, in1=True)
    at(p, 159)
    assert p.read("ton1.Q") is False
    at(p, 160)
    assert p.read("ton1.Q") is True


def test_tof_falls_exactly_pt_after_in_falls():
    p = make()
    at(p, 0, in1=True)
    assert p.read("tof1.Q") is True
    at(p, 10, in1=False)
    at(p, 109)
    assert p.read("tof1.Q") is True and p.read("tof1.ET") == 99
    at(p, 110)
    assert p.read("tof1.Q") is False and p.read("tof1.ET") == 100
    at(p, 120, in1=True)
    assert p.read("tof1.Q") is True and p.read("tof1.ET") == 0


def test_tp_pulse_is_exactly_pt_and_not_retriggerable():
    p = make()
    at(p, 0, in1=True)
    assert p.read("tp1.Q") is True
    at(p, 20, in1=False)
    at(p, 30, in1=True)  # a new edge during the pulse does not extend it
    at(p, 99)
    assert p.read("tp1.Q") is True
    at(p, 100)
    assert p.read("tp1.Q") is False and p.read("tp1.ET") == 100
    at(p, 110)  # IN still TRUE: ET holds PT
    assert p.read("tp1.ET") == 100
    at(p, 120, in1=False)
    assert p.read("tp1.ET") == 0


def test_edge_triggers():
    p = make()
    at(p, 0)
    # IEC F_TRIG: Q := NOT CLK AND NOT M with M initially FALSE -> pulse on the first call
    assert p.read("rt.Q") is False and p.read("ft.Q") is True
    at(p, 10)
    assert p.read("ft.Q") is False
    at(p, 20, in1=True)
    assert p.read("rt.Q") is True and p.read("ft.Q") is False
    at(p, 30)
    assert p.read("rt.Q") is False
    at(p, 40, in1=False)
    assert p.read("ft.Q") is True and p.read("rt.Q") is False
    at(p, 50)
    assert p.read("ft.Q") is False


def test_counters():
    p = make()
    t = 0
    for _ in range(3):
        at(p, t, in1=True)
        at(p, t + 10, in1=False)
        t += 20
    assert p.read("cu.CV") == 3 and p.read("cu.Q") is True
    at(p, t, rst=True)
    assert p.read("cu.CV") == 0 and p.read("cu.Q") is False
    at(p, t + 10, rst=False, ld=True)
    assert p.read("cd.CV") == 2 and p.read("cd.Q") is False
    at(p, t + 20, ld=False, in1=True)
    at(p, t + 30, in1=False)
    at(p, t + 40, in1=True)
    assert p.read("cd.CV") == 0 and p.read("cd.Q") is True


def test_ctud_up_down_and_simultaneous_edges():
    p = make()
    at(p, 0, in1=True)
    assert p.read("cud.CV") == 1
    at(p, 10, in1=False, in2=True)
    assert p.read("cud.CV") == 0 and p.read("cud.QD") is True
    at(p, 20, in1=True, in2=False)
    at(p, 30, in1=False)
    assert p.read("cud.CV") == 1
    at(p, 40, in1=True, in2=True)  # both edges at once: no change
    assert p.read("cud.CV") == 1 and p.read("cud.QU") is False
    at(p, 50, in1=False)
    at(p, 60, in1=True)
    assert p.read("cud.CV") == 2 and p.read("cud.QU") is True


def test_bistables_dominance():
    p = make()
    at(p, 0, in1=True, in2=True)
    assert p.read("sr1.Q1") is True and p.read("rs1.Q1") is False
    at(p, 10, in1=False, in2=False)
    assert p.read("sr1.Q1") is True and p.read("rs1.Q1") is False
    at(p, 20, in1=True)
    at(p, 30, in1=False)
    assert p.read("rs1.Q1") is True
    at(p, 40, in2=True)
    assert p.read("sr1.Q1") is False and p.read("rs1.Q1") is False


def test_virtual_clock_runs_are_reproducible():
    def trace():
        p = make()
        out = []
        for n in range(200):
            p.write("in1", (n // 7) % 2 == 0)
            p.scan(n * 10)
            out.append(p.snapshot())
        return out

    assert trace() == trace()
