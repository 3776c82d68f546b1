"""Rule matching and request classification: function codes, address ranges (within for allow, overlap for
deny), OPC UA services, node prefixes and security modes, sources by host/zone/role/CIDR, ports, first match
wins, default actions, paths across several conduits, and the decision cache."""

from __future__ import annotations

import pytest
import yaml

from plcsim.requests import ModbusRequest, OpcCall, OpcRead, OpcWrite
from twin.net import (OpcBrowse, OpcSubscribe, ProgramDownload, Service, TcpConnect, classify, evaluate, flow_of,
                      load_network, reachability)

NET = """\
zones:
  a: {level: 2, sl_t: 2, subnet: 10.1.0.0/24}
  b: {level: 1, sl_t: 3, subnet: 10.2.0.0/24}
  c: {level: 0, sl_t: 3, subnet: 10.3.0.0/24}
  island: {level: 1, sl_t: 3, subnet: 10.9.0.0/24}
hosts:
  h1: {zone: a, role: hmi, address: 10.1.0.1}
  h2: {zone: a, role: ews, address: 10.1.0.2}
  p1: {zone: b, role: plc, address: 10.2.0.1}
  p2: {zone: b, role: plc, address: 10.2.0.2}
  io: {zone: c, role: io, address: 10.3.0.1}
  lone: {zone: island, role: plc, address: 10.9.0.1}
firewalls: {fw: {}}
conduits:
  ab: {zones: [a, b], firewall: fw, rules: rules.yaml}
  bc: {zones: [b, c], firewall: fw, rules: rules.yaml}
"""


def network(tmp_path, rules: list, default: str = "deny", bc: list | None = None, bc_default: str = "allow"):
    (tmp_path / "network.yaml").write_text(NET)
    doc = {"conduits": {"ab": {"default": default, "rules": rules},
                        "bc": {"default": bc_default, "rules": bc or []}}}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_network(tmp_path / "network.yaml")


def ok(net, src, dst, request, **kw) -> bool:
    return evaluate(net.policy, flow_of(src, dst, request, **kw)).allowed


def mb(fc, address=0, count=1, values=(), write_address=0):
    return ModbusRequest(fc, address=address, count=count, values=values, write_address=write_address)


# --- classification ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("request_, op, ranges", [
    (mb(1, 0, 8), "modbus.read", (("coils", 0, 8),)),
    (mb(2, 3, 2), "modbus.read", (("discrete_inputs", 3, 5),)),
    (mb(3, 100, 10), "modbus.read", (("holding_registers", 100, 110),)),
    (mb(4, 0, 1), "modbus.read", (("input_registers", 0, 1),)),
    (mb(5, 8, values=(0xFF00,)), "modbus.write", (("coils", 8, 9),)),
    (mb(6, 7, values=(1,)), "modbus.write", (("holding_registers", 7, 8),)),
    (mb(15, 8, values=(True, False, True)), "modbus.write", (("coils", 8, 11),)),
    (mb(16, 2050, values=(1, 2)), "modbus.write", (("holding_registers", 2050, 2052),)),
    (mb(23, 0, 4, values=(9,), write_address=20), "modbus.write",
     (("holding_registers", 20, 21), ("holding_registers", 0, 4))),
    (ModbusRequest(43), "modbus.diag", ()),
    (ModbusRequest(90), "modbus.other", ()),
])
def test_modbus_classification(request_, op, ranges):
    s = classify(request_)
    assert (s.proto, s.port, s.op, s.fc, s.ranges) == ("modbus", 502, op, request_.function_code, ranges)


def test_opcua_and_engineering_classification():
    assert classify(OpcRead(("Filler.Level", "Filler.state"))) == Service(
        "opcua", 4840, "opcua.read", nodes=("filler.level", "filler.state"), security="None")
    assert classify(OpcWrite("Filler.level_hi_sp", 1.0), security="Sign").nodes == ("filler.level_hi_sp",)
    call = flow_of("h2", "filler_plc", OpcCall("Start"), security="SignAndEncrypt").service
    assert (call.op, call.nodes, call.security) == ("opcua.call", ("filler_plc.start",), "SignAndEncrypt")
    assert classify(OpcBrowse("Filler")).op == "opcua.browse"
    assert classify(OpcSubscribe(("Filler.level",))).op == "opcua.subscribe"
    assert classify(ProgramDownload()) == Service("eng", 102, "program_download")
    assert classify(TcpConnect(3389)) == Service("tcp", 3389, "tcp")
    with pytest.raises(ValueError, match="security mode"):
        classify(OpcRead(("x",)), security="Encrypt")
    with pytest.raises(TypeError):
        classify(object())


# --- Modbus function codes and ranges -------------------------------------------------------------------------
def test_function_code_list_and_range(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "p1", "modbus": {"fc": [3, 4]}},
                             {"action": "allow", "src": "h2", "dst": "p1", "modbus": {"fc": "1-4"}}])
    assert ok(net, "h1", "p1", mb(3)) and ok(net, "h1", "p1", mb(4))
    assert not ok(net, "h1", "p1", mb(1)) and not ok(net, "h1", "p1", mb(16, values=(1,)))
    assert ok(net, "h2", "p1", mb(2)) and not ok(net, "h2", "p1", mb(5, values=(1,)))


def test_allow_range_needs_the_whole_request_within(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "p1", "op": "modbus.read",
                              "modbus": {"holding_registers": "100-199"}}])
    assert ok(net, "h1", "p1", mb(3, 100, 100))       # exactly [100, 200)
    assert ok(net, "h1", "p1", mb(3, 199, 1))         # last address
    assert not ok(net, "h1", "p1", mb(3, 100, 101))   # runs one past the end
    assert not ok(net, "h1", "p1", mb(3, 99, 2))      # starts one before
    assert not ok(net, "h1", "p1", mb(3, 200, 1))
    assert not ok(net, "h1", "p1", mb(4, 100, 1))     # input registers are another table


def test_deny_range_matches_any_overlap(tmp_path):
    net = network(tmp_path, [{"action": "deny", "src": "any", "dst": "p1", "modbus": {"holding_registers": "10-19"}},
                             {"action": "allow", "src": "any", "dst": "p1", "proto": "modbus"}])
    assert not ok(net, "h1", "p1", mb(16, 5, values=(0,) * 10))   # [5, 15) touches 10..14
    assert ok(net, "h1", "p1", mb(16, 0, values=(0,) * 10))       # [0, 10) stops just short
    assert not ok(net, "h1", "p1", mb(6, 19, values=(1,)))
    assert ok(net, "h1", "p1", mb(6, 20, values=(1,)))
    assert ok(net, "h1", "p1", mb(5, 12, values=(1,)))             # coil 12: another table
    assert ok(net, "h1", "p1", ModbusRequest(43))                   # touches no table: the deny does not match


def test_coil_ranges_and_tables(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "p1", "op": "modbus.write",
                              "modbus": {"coils": [8, 9]}}])
    assert ok(net, "h1", "p1", mb(5, 8, values=(1,))) and ok(net, "h1", "p1", mb(5, 9, values=(1,)))
    assert ok(net, "h1", "p1", mb(15, 8, values=(1, 0)))
    assert not ok(net, "h1", "p1", mb(15, 8, values=(1, 0, 1)))   # coil 10 is outside
    assert not ok(net, "h1", "p1", mb(6, 8, values=(1,)))          # holding register 8, not coil 8
    assert not ok(net, "h1", "p1", mb(1, 8, 1))                    # a read, not a write


def test_fc23_checks_both_parts(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "p1",
                              "modbus": {"holding_registers": "0-9"}}])
    assert ok(net, "h1", "p1", mb(23, 0, 5, values=(1,), write_address=9))
    assert not ok(net, "h1", "p1", mb(23, 0, 5, values=(1,), write_address=20))
    assert not ok(net, "h1", "p1", mb(23, 8, 5, values=(1,), write_address=0))


# --- OPC UA ----------------------------------------------------------------------------------------------------
def test_opcua_services(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "p1", "opcua": {"service": ["read", "browse"]}}])
    assert ok(net, "h1", "p1", OpcRead(("Filler.level",)))
    assert ok(net, "h1", "p1", OpcBrowse("Filler"))
    assert not ok(net, "h1", "p1", OpcWrite("Filler.level", 1))
    assert not ok(net, "h1", "p1", OpcCall("Stop"))
    assert not ok(net, "h1", "p1", OpcSubscribe(("Filler.level",)))
    assert not ok(net, "h1", "p1", mb(3))


def test_node_prefixes_are_case_insensitive_and_fail_closed(tmp_path):
    net = network(tmp_path, [
        {"action": "deny", "src": "any", "dst": "p1", "opcua": {"service": "write", "node": "Filler.level_hh"}},
        {"action": "allow", "src": "h1", "dst": "p1", "opcua": {"service": "write", "node": "Filler.level_"}},
        {"action": "deny", "src": "any", "dst": "p1", "opcua": {"service": "read", "node": "Capper."}},
        {"action": "allow", "src": "h1", "dst": "p1", "opcua": {"service": "read", "node": ["Filler.", "Line."]}},
    ])
    assert ok(net, "h1", "p1", OpcWrite("Filler.level_hi_sp", 85.0))
    assert ok(net, "h1", "p1", OpcWrite("FILLER.LEVEL_LO_SP", 60.0))       # plcsim resolves tags case-insensitively
    assert not ok(net, "h1", "p1", OpcWrite("filler.LEVEL_HH_SP", 200.0))   # so the deny must too
    assert not ok(net, "h1", "p1", OpcWrite("Filler.fill_time_ms", 1))
    assert ok(net, "h1", "p1", OpcRead(("Filler.level", "Line.starts")))
    assert not ok(net, "h1", "p1", OpcRead(("Filler.level", "Qa.rejects")))   # one node outside the allow
    assert not ok(net, "h1", "p1", OpcRead(("Filler.level", "Capper.caps")))  # one node inside the deny


def test_security_modes(tmp_path):
    net = network(tmp_path, [
        {"action": "allow", "src": "h2", "dst": "p1", "op": "opcua.call", "opcua": {"security": "SignAndEncrypt"}},
        {"action": "allow", "src": "h1", "dst": "p1", "op": "opcua.read",
         "opcua": {"security": ["Sign", "SignAndEncrypt"]}},
    ])
    assert ok(net, "h2", "p1", OpcCall("Start"), security="SignAndEncrypt")
    assert not ok(net, "h2", "p1", OpcCall("Start"), security="Sign")
    assert not ok(net, "h2", "p1", OpcCall("Start"))                      # None by default
    assert ok(net, "h1", "p1", OpcRead(("x",)), security="Sign")
    assert not ok(net, "h1", "p1", OpcRead(("x",)), security="None")


# --- sources, destinations, ports ----------------------------------------------------------------------------
@pytest.mark.parametrize("src, h1, h2", [
    ("h1", True, False), ("host:h2", False, True), ("a", True, True), ("zone:a", True, True),
    ("role:ews", False, True), ("10.1.0.2/32", False, True), ("10.1.0.2", False, True),
    ("10.1.0.0/24", True, True), ("10.0.0.0/8", True, True), ("10.1.0.0/31", True, False), ("any", True, True),
    (["h1", "role:ews"], True, True),
])
def test_sources(tmp_path, src, h1, h2):
    net = network(tmp_path, [{"action": "allow", "src": src, "dst": "p2", "proto": "modbus"}])
    assert (ok(net, "h1", "p2", mb(3)), ok(net, "h2", "p2", mb(3))) == (h1, h2)
    assert not ok(net, "h1", "p1", mb(3))  # the destination is p2 only


def test_ports(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "p1", "op": "tcp", "port": ["8000-8099", 22]},
                             {"action": "allow", "src": "h2", "dst": "p1", "proto": "tcp", "port": 502}])
    assert ok(net, "h1", "p1", TcpConnect(8000)) and ok(net, "h1", "p1", TcpConnect(8099))
    assert ok(net, "h1", "p1", TcpConnect(22))
    assert not ok(net, "h1", "p1", TcpConnect(8100)) and not ok(net, "h1", "p1", TcpConnect(7999))
    # proto tcp covers the protocols that run over TCP: Modbus on 502 passes, Modbus on 5020 does not
    assert ok(net, "h2", "p1", mb(16, values=(1,)))
    assert not ok(net, "h2", "p1", mb(3), port=5020)
    assert not ok(net, "h2", "p1", TcpConnect(22))


# --- order, defaults, paths ------------------------------------------------------------------------------------
def test_first_match_wins(tmp_path):
    rules = [{"action": "deny", "src": "h1", "dst": "p1", "op": "modbus.write"},
             {"action": "allow", "src": "h1", "dst": "p1", "proto": "modbus"}]
    net = network(tmp_path, rules)
    d = evaluate(net.policy, flow_of("h1", "p1", mb(6, values=(1,))))
    assert not d.allowed and (d.conduit, d.rule_index) == ("ab", 0)
    text = (tmp_path / "rules.yaml").read_text().splitlines()
    assert text[d.rule_line - 1].lstrip().startswith("- action: deny")
    assert d.where == f"{tmp_path / 'rules.yaml'}:{d.rule_line}"
    assert ok(net, "h1", "p1", mb(3))
    net = network(tmp_path, rules[::-1])
    assert ok(net, "h1", "p1", mb(6, values=(1,)))


def test_default_action(tmp_path):
    net = network(tmp_path, [], default="allow")
    d = evaluate(net.policy, flow_of("h1", "p1", mb(6, values=(1,))))
    assert d.allowed and d.rule_index is None
    lines = (tmp_path / "rules.yaml").read_text().splitlines()
    assert lines[d.rule_line - 1].strip() == "default: allow"
    assert "default allow" in d.reason
    net = network(tmp_path, [], default="deny")
    assert not ok(net, "h1", "p1", mb(3))


def test_same_zone_and_no_route(tmp_path):
    net = network(tmp_path, [])
    d = evaluate(net.policy, flow_of("h1", "h2", mb(16, values=(1,))))
    assert d.allowed and d.conduit is None and "same zone" in d.reason
    d = evaluate(net.policy, flow_of("h1", "lone", mb(3)))
    assert not d.allowed and "no conduit path" in d.reason
    matrix = reachability(net)
    assert matrix.cell("h1", "lone", "modbus.read").status == "no-route"
    assert matrix.cell("h1", "h2", "modbus.write").status == "same-zone"
    with pytest.raises(ValueError, match="unknown host"):
        evaluate(net.policy, flow_of("h1", "ghost", mb(3)))


def test_every_conduit_on_the_path_must_allow(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "io", "proto": "modbus"}],
                  bc=[{"action": "deny", "src": "any", "dst": "io", "op": "modbus.write"}])
    d = evaluate(net.policy, flow_of("h1", "io", mb(3)))
    assert d.allowed and [h.conduit for h in d.hops] == ["ab", "bc"] and d.conduit == "bc"
    assert "after ab #1" in d.reason
    d = evaluate(net.policy, flow_of("h1", "io", mb(6, values=(1,))))
    assert not d.allowed and (d.conduit, d.rule_index) == ("bc", 0)
    assert [h.allowed for h in d.hops] == [True, False]


def test_program_download_is_its_own_protocol(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h2", "dst": "role:plc", "op": "opcua.call"},
                             {"action": "allow", "src": "h1", "dst": "p1", "op": "program_download"}])
    assert not ok(net, "h2", "p1", ProgramDownload())   # Start/Stop rights do not include a download
    assert ok(net, "h1", "p1", ProgramDownload())
    assert not ok(net, "h1", "p1", OpcCall("Stop"))


def test_decisions_are_cached_per_flow(tmp_path):
    net = network(tmp_path, [{"action": "allow", "src": "h1", "dst": "role:plc", "op": "modbus.read"}])
    poll = flow_of("h1", "p1", mb(3, 0, 10))
    first = evaluate(net.policy, poll)
    for _ in range(1000):
        assert evaluate(net.policy, flow_of("h1", "p1", mb(3, 0, 10))) is first
    assert len(net.policy._cache) == 1
