"""The shipped bottling network and its rule sets: static results, reachability, diffs with rule lines.

- baseline: production works, but the legacy rule lets the office LAN write to every PLC;
- proposed-good: required flows allowed, forbidden denied; the diff stays inside its intent;
- proposed-blocks-hmi: the HMI's start/stop write is denied, so a required flow fails;
- proposed-shadowed: an early broad allow shadows the deny; the forbidden write stays allowed, reported
  with the rule line responsible and flagged as shadowing.
Rule lines are looked up in the files by content, so editing a comment does not break these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plcsim.requests import ModbusRequest, OpcCall, OpcRead, OpcWrite
from twin.net import (ProgramDownload, check_flows, diff, differential, evaluate, flow_of, lint, load_network,
                      reachability)

HERE = Path(__file__).resolve().parents[1] / "scenarios" / "bottling"
NETWORK = HERE / "network.yaml"
RULES = HERE / "rules"


def line(file: str, fragment: str) -> str:
    """'<path>:<line>' of the rule of rules/<file> holding `fragment`: the line its list item starts on."""
    path = RULES / file
    lines = path.read_text().splitlines()
    hits = [i for i, text in enumerate(lines) if fragment in text and not text.lstrip().startswith("#")]
    assert len(hits) == 1, (file, fragment, hits)
    i = hits[0]
    while not lines[i].lstrip().startswith("- "):
        i -= 1
    return f"{path}:{i + 1}"


@pytest.fixture(scope="module")
def nets():
    return {name: load_network(NETWORK, None if name == "baseline" else RULES / f"proposed-{name}.yaml")
            for name in ("baseline", "good", "blocks-hmi", "shadowed")}


def results(net) -> dict[str, object]:
    return {r.flow.label: r for r in check_flows(net)}


LEGACY = ("baseline.yaml", "src: 10.10.0.0/24")
HMI_WRITE_RULE = ("baseline.yaml", "modbus: {coils: [8, 9]}")


# --- static results ---------------------------------------------------------------------------------------------
def test_baseline_runs_production_but_lets_the_office_write(nets):
    res = check_flows(nets["baseline"])
    assert all(r.ok for r in res if r.flow.kind == "required")
    forbidden = [r for r in res if r.flow.kind == "forbidden"]
    assert forbidden and not any(r.ok for r in forbidden)
    first = forbidden[0]
    flow, dec, _atom = first.counterexample
    assert (flow.src, dec.allowed, dec.conduit, dec.where) == ("it_ws", True, "sup-ctrl", line(*LEGACY))
    assert [h.conduit for h in dec.hops] == ["it-dmz", "dmz-sup", "sup-ctrl"]
    assert not lint(nets["baseline"])


def test_good_keeps_production_and_blocks_the_office(nets):
    res = check_flows(nets["good"])
    assert [r.flow.label for r in res if not r.ok] == []
    assert not lint(nets["good"])
    # the decisions name the proposed file's lines
    hmi = results(nets["good"])["hmi -> line_plc modbus.write coils 8-9"]
    assert hmi.deciders == [f"sup-ctrl rule #2 allow ({line('proposed-good.yaml', 'modbus: {coils: [8, 9]}')})"]


def test_blocks_hmi_fails_the_hmi_write(nets):
    res = results(nets["blocks-hmi"])
    failing = [label for label, r in res.items() if not r.ok]
    assert failing == ["hmi -> line_plc modbus.write coils 8-9"]
    r = res["hmi -> line_plc modbus.write coils 8-9"]
    flow, dec, _atom = r.counterexample
    assert (flow.src, flow.dst, dec.allowed) == ("hmi", "line_plc", False)
    assert dec.where == line("proposed-blocks-hmi.yaml", "no Modbus writes to a PLC")
    assert r.outcome == "denied"


def test_shadowed_allows_the_forbidden_write_and_says_why(nets):
    res = results(nets["shadowed"])
    r = res["it_ws -> role:plc modbus.write"]
    assert not r.ok and r.outcome == "allowed"
    broad = line("proposed-shadowed.yaml", "plant LAN Modbus")
    deny = line("proposed-shadowed.yaml", "nothing on the office LAN writes")
    flow, dec, _atom = r.counterexample
    assert (flow.src, dec.allowed, dec.where, dec.rule_index) == ("it_ws", True, broad, 2)
    assert r.notes == [f"shadowing: sup-ctrl rule #3 ({broad}) shadows rule #8 ({deny}, deny), which never applies"]
    (finding,) = lint(nets["shadowed"])
    assert (finding.kind, finding.where, finding.rule_index) == ("shadowed", deny, 7)
    assert all(x.ok for x in res.values() if x.flow.kind == "required")


def test_reachability_matrix(nets):
    m = reachability(nets["baseline"])
    assert m.cell("hmi", "filler_plc", "modbus.read").status == "allowed"
    assert m.cell("hmi", "line_plc", "modbus.write").status == "partial"   # coils 8-9 only
    assert m.cell("hmi", "filler_plc", "modbus.write").status == "denied"
    assert m.cell("it_ws", "filler_plc", "modbus.write").status == "allowed"
    assert m.cell("ews", "qa_plc", "program_download").status == "allowed"
    assert m.cell("ews", "qa_plc", "opcua.call").status == "partial"       # SignAndEncrypt only
    assert m.cell("historian", "filler_plc", "opcua.read").status == "allowed"
    assert m.cell("historian", "filler_plc", "opcua.write").status == "denied"
    assert m.cell("hmi", "historian", "modbus.write").status == "same-zone"
    assert m.cell("remote_io", "filler_plc", "modbus.read").status == "denied"
    good = reachability(nets["good"])
    assert good.cell("it_ws", "filler_plc", "modbus.write").status == "denied"
    assert good.cell("it_ws", "filler_plc", "modbus.read").status == "allowed"
    assert good.cell("attacker", "filler_plc", "modbus.read").status == "denied"


def test_scenario_style_flows(nets):
    (r,) = check_flows(nets["good"], [{"from": "hmi", "to": "filler_plc", "op": "modbus.read", "expect": "allowed"}])
    assert r.ok
    (r,) = check_flows(nets["good"], [{"from": "it_ws", "to": "filler_plc", "op": "modbus.write",
                                       "expect": "denied"}])
    assert r.ok
    (r,) = check_flows(nets["baseline"], [{"from": "historian", "to": "filler_plc", "op": "opcua.read",
                                           "expect": "allowed", "security": "SignAndEncrypt", "node": "Filler."}])
    assert r.ok


# --- enforcement with the request objects the twin's clients send ---------------------------------------------
def test_evaluate_real_requests(nets):
    base, good = nets["baseline"].policy, nets["good"].policy
    poll = flow_of("hmi", "filler_plc", ModbusRequest(3, address=0, count=10))
    d = evaluate(base, poll)
    assert d.allowed and d.where == line("baseline.yaml", "note: \"HMI polling\"")
    start = flow_of("hmi", "line_plc", ModbusRequest(5, address=8, values=(0xFF00,)))   # hmi_start, %QX1.0
    assert evaluate(base, start).allowed and evaluate(good, start).allowed
    assert not evaluate(good, flow_of("hmi", "line_plc", ModbusRequest(5, address=0, values=(0xFF00,)))).allowed
    # T0836 from the office: level_hi_sp is %MD1 -> holding registers 2050-2051
    attack = flow_of("attacker", "filler_plc", ModbusRequest(16, address=2050, values=(0x42C8, 0)))
    assert evaluate(base, attack).allowed
    d = evaluate(good, attack)
    assert not d.allowed and d.where == line("proposed-good.yaml", "the office LAN does not talk")
    assert evaluate(base, flow_of("ews", "filler_plc", ProgramDownload())).allowed
    assert not evaluate(base, flow_of("hmi", "filler_plc", ProgramDownload())).allowed
    assert evaluate(base, flow_of("ews", "filler_plc", OpcCall("Stop"), security="SignAndEncrypt")).allowed
    assert not evaluate(base, flow_of("ews", "filler_plc", OpcCall("Stop"))).allowed
    assert evaluate(base, flow_of("historian", "qa_plc", OpcRead(("Qa.rejects",)))).allowed
    assert not evaluate(base, flow_of("historian", "qa_plc", OpcWrite("Qa.rejects", 0))).allowed


# --- diffs ------------------------------------------------------------------------------------------------------
def _rows(changes):
    return {(c.change, c.src, c.dst, c.op) for c in changes}


PLCS = ("filler_plc", "capper_plc", "qa_plc", "line_plc")


def test_diff_good(nets):
    report = differential(nets["baseline"], nets["good"])
    expected = {("allowed->denied", "it_ws", p, op) for p in PLCS for op in ("modbus.write", "modbus.diag")}
    expected |= {("allowed->denied", "attacker", p, op) for p in PLCS
                 for op in ("modbus.read", "modbus.write", "modbus.diag")}
    assert _rows(report.changes) == expected
    deny = line("proposed-good.yaml", "the office LAN does not talk")
    assert {c.responsible.where for c in report.changes} == {deny}
    assert {c.was.where for c in report.changes} == {line(*LEGACY)}
    assert [s.status for s in report.steps] == ["pass", "pass", "pass"] and report.ok
    assert report.changed_conduits == ["sup-ctrl"]
    assert {y.flow.kind for _x, y in report.declared} == {"forbidden"}


def test_diff_blocks_hmi(nets):
    report = differential(nets["baseline"], nets["blocks-hmi"])
    outside = [c for c in report.changes if not c.in_intent]
    assert [(c.change, c.src, c.dst, c.op) for c in outside] == [("allowed->denied", "hmi", "line_plc",
                                                                  "modbus.write")]
    (hmi,) = outside
    assert hmi.responsible.where == line("proposed-blocks-hmi.yaml", "no Modbus writes to a PLC")
    assert hmi.was.where == line(*HMI_WRITE_RULE)
    assert {(a.table, a.span) for a in hmi.atoms} == {("coils", (8, 10))}
    assert [s.status for s in report.steps] == ["pass", "pass", "fail"] and not report.ok
    assert [(x.ok, y.ok, y.flow.label) for x, y in report.declared if y.flow.kind == "required"] == [
        (True, False, "hmi -> line_plc modbus.write coils 8-9")]


def test_diff_shadowed(nets):
    report = differential(nets["baseline"], nets["shadowed"])
    assert {c.change for c in report.changes} == {"denied->allowed"}
    assert {c.src for c in report.changes} == {"hmi", "historian", "ews"}
    broad = line("proposed-shadowed.yaml", "plant LAN Modbus")
    assert {c.responsible.where for c in report.changes} == {broad}
    assert [s.status for s in report.steps] == ["pass", "fail", "fail"]
    step2 = report.steps[1]
    assert any("shadowing" in n for item in step2.items for n in item.notes)


def test_diff_of_identical_rules_is_empty(nets):
    again = load_network(NETWORK)
    assert diff(nets["baseline"], again) == []
    report = differential(nets["baseline"], again)
    assert [s.status for s in report.steps] == ["skipped", "skipped", "pass"]


def test_diff_is_symmetric(nets):
    there = _rows(diff(nets["baseline"], nets["shadowed"]))
    back = _rows(diff(nets["shadowed"], nets["baseline"]))
    flip = {"allowed->denied": "denied->allowed", "denied->allowed": "allowed->denied"}
    assert back == {(flip[c], s, d, op) for c, s, d, op in there}
