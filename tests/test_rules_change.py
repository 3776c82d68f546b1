"""Firewall rules inside the twin: enforcement on every client request, and the `rules` change type."""

from pathlib import Path

from plcsim import requests as rq
from twin.api import load, validate
from twin.engine import virtual

CHANGES = Path("scenarios/bottling/changes")


def shortened(name, hours=3.0, replications=3):
    loaded = load(CHANGES / name)
    sc = loaded.scenario
    loaded.scenario = sc.model_copy(update={"run": sc.run.model_copy(
        update={"duration": hours * 3_600_000.0, "replications": replications})})
    return loaded


def test_a_denied_request_never_reaches_the_plc_and_is_logged_with_its_rule():
    loaded = load(CHANGES / "rules-blocks-hmi.yaml")
    twin = virtual.build(loaded, 0)
    twin.gateway.set_policy(loaded.change_network.policy)
    line_plc = twin.plcs["line_plc"]
    before = line_plc.snapshot()
    resp = twin.gateway.send("hmi", "line_plc", rq.ModbusRequest(function_code=5, address=9, values=(0xFF00,)))
    assert resp is None
    assert line_plc.snapshot() == before
    entry = twin.gateway.log[-1]
    assert entry["action"] == "deny" and entry["src"] == "hmi" and entry["dst"] == "line_plc"
    assert entry["rule"].endswith("proposed-blocks-hmi.yaml:14")
    # reads still pass, through the same path
    ok = twin.gateway.send("hmi", "line_plc", rq.ModbusRequest(function_code=1, address=0, count=8))
    assert ok is not None and ok.ok


def test_blocking_the_hmi_operator_writes_costs_production_after_the_first_stop():
    loaded = load(CHANGES / "rules-blocks-hmi.yaml")
    base = virtual.build(loaded, 0)
    cand = virtual.build(loaded, 0)
    cand.gateway.set_policy(loaded.change_network.policy)
    # the first start at 1 s is refused too, so let the line run first (as the rules arrive at 1 h)
    cand.gateway.set_policy(loaded.network.policy)

    def swap(env):
        yield env.timeout(3_600_000)
        cand.gateway.set_policy(loaded.change_network.policy)
    cand.env.process(swap(cand.env))
    for t in (base, cand):
        virtual.run(t, 3 * 3_600_000.0)
    refused = [e for e in cand.line.events if e["event"] == "operator_start" and not e["accepted"]]
    assert refused, "after the first guard stop the operator's HMI start is refused"
    assert cand.line.counts["packed"] < base.line.counts["packed"]


def test_good_ruleset_is_go():
    r = validate(shortened("rules-good.yaml"))
    assert r.verdict == "GO", r.explain()
    names = [c.name for c in r.checks]
    assert any(n.startswith("rules diff step 3") for n in names)
    assert any("(observed)" in n for n in names)


def test_ruleset_that_blocks_the_hmi_is_no_go_naming_the_flow():
    r = validate(shortened("rules-blocks-hmi.yaml"))
    assert r.verdict == "NO_GO", r.explain()
    static = next(c for c in r.checks if c.name.startswith("required flow hmi -> line_plc modbus.write")
                  and c.name.endswith("(static)"))
    observed = next(c for c in r.checks if c.name.startswith("required flow hmi -> line_plc modbus.write")
                    and c.name.endswith("(observed)"))
    assert static.status == "FAIL" and "proposed-blocks-hmi.yaml:14" in static.message
    assert observed.status == "FAIL" and observed.evidence["observed_denied"] > 0
    oee = next(c for c in r.checks if c.name.startswith("after change: oee"))
    assert oee.evidence["relative_difference"]["mean"] < -0.02  # the KPI loss is real, not declared


def test_shadowed_rule_is_no_go_naming_the_forbidden_flow_and_rule_line():
    r = validate(shortened("rules-shadowed.yaml", hours=2.0, replications=2))
    assert r.verdict == "NO_GO", r.explain()
    forbidden = [c for c in r.checks if c.name.startswith("forbidden flow") and c.name.endswith("(static)")
                 and c.status == "FAIL"]
    assert forbidden
    assert any("proposed-shadowed.yaml:21" in c.message for c in forbidden)
    rb = next(c for c in r.checks if c.kind == "rollback")
    assert rb.status == "PASS" and "rules hash" in rb.message
