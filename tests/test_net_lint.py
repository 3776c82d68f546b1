"""Static checks: shadowed rules (pairwise subset, with the allow-within/deny-overlap range semantics), rules
that can never match, Purdue levels skipped without a DMZ, ambiguous routes; and the model errors that are
located errors instead: unknown hosts/zones/roles, ambiguous names, overlapping addresses."""

from __future__ import annotations

import pytest
import yaml

from twin.model.errors import ScenarioError
from twin.net import lint, load_network

NET = """\
zones:
  a: {level: 2, sl_t: 2, subnet: 10.1.0.0/24}
  b: {level: 1, sl_t: 3, subnet: 10.2.0.0/24}
  e: {level: 4, sl_t: 1, subnet: 10.4.0.0/24}
  empty: {level: 1, sl_t: 1, subnet: 10.5.0.0/24}
hosts:
  h1: {zone: a, role: hmi, address: 10.1.0.1}
  h2: {zone: a, role: ews, address: 10.1.0.2}
  p1: {zone: b, role: plc, address: 10.2.0.1}
  p2: {zone: b, role: plc, address: 10.2.0.2}
firewalls: {fw: {}}
conduits:
  ab: {zones: [a, b], firewall: fw, rules: rules.yaml}
"""


def load(tmp_path, rules: list | None = None, net: str = NET, sections: dict | None = None):
    (tmp_path / "network.yaml").write_text(net)
    doc = {"conduits": sections or {"ab": {"default": "deny", "rules": rules or []}}}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_network(tmp_path / "network.yaml")


def shadowed(tmp_path, earlier: dict, later: dict) -> bool:
    net = load(tmp_path, [{"src": "any", "dst": "any", **earlier}, {"src": "any", "dst": "any", **later}])
    found = [f for f in lint(net) if f.kind == "shadowed"]
    assert all(f.rule_index == 1 for f in found)
    return bool(found)


A, D = {"action": "allow"}, {"action": "deny"}


@pytest.mark.parametrize("earlier, later, expected", [
    # hosts and zones
    ({**A, "src": "a"}, {**D, "src": "h1"}, True),
    ({**A, "src": "h1"}, {**D, "src": "a"}, False),
    ({**A, "src": "10.1.0.0/24"}, {**A, "src": "role:hmi"}, True),
    # operations and protocols
    ({**A, "proto": "modbus"}, {**D, "op": "modbus.write"}, True),
    ({**A, "proto": "tcp"}, {**D, "op": "opcua.call"}, True),             # tcp carries OPC UA
    ({**A, "op": "modbus.read"}, {**D, "proto": "modbus"}, False),
    ({**A, "modbus": {"fc": "1-6"}}, {**D, "op": "modbus.read"}, True),
    ({**A, "modbus": {"fc": [1, 2, 3]}}, {**D, "op": "modbus.read"}, False),  # FC 4 gets past
    # ranges: allow matches within, deny matches any overlap
    ({**A, "modbus": {"holding_registers": "0-99"}}, {**A, "modbus": {"holding_registers": "10-19"}}, True),
    ({**D, "modbus": {"holding_registers": "0-99"}}, {**D, "modbus": {"holding_registers": "10-19"}}, True),
    ({**D, "modbus": {"holding_registers": "0-99"}}, {**A, "modbus": {"holding_registers": "10-19"}}, True),
    ({**A, "modbus": {"holding_registers": "0-99"}}, {**D, "modbus": {"holding_registers": "10-19"}}, False),
    ({**A, "proto": "modbus"}, {**D, "modbus": {"holding_registers": "10-19"}}, True),
    ({**A, "modbus": {"holding_registers": "0-99"}}, {**A, "op": "modbus.write"}, False),  # coils get past
    ({**A, "modbus": {"holding_registers": "0-99"}}, {**A, "modbus": {"holding_registers": "50-150"}}, False),
    # OPC UA nodes and security
    ({**A, "opcua": {"node": "Filler."}}, {**A, "opcua": {"node": "filler.level"}}, True),
    ({**A, "opcua": {"node": "Filler.level"}}, {**A, "opcua": {"node": "Filler."}}, False),
    ({**A, "opcua": {"node": "Filler."}}, {**D, "opcua": {"node": "Filler.level"}}, False),
    ({**A, "opcua": {"security": ["Sign", "SignAndEncrypt"]}}, {**D, "opcua": {"security": "Sign"}}, True),
    ({**A, "opcua": {"security": "Sign"}}, {**D, "op": "opcua.read"}, False),
    # ports
    ({**A, "op": "tcp", "port": "1-1024"}, {**D, "op": "tcp", "port": 443}, True),
    ({**A, "op": "tcp", "port": 443}, {**D, "op": "tcp"}, False),
])
def test_shadowing(tmp_path, earlier, later, expected):
    assert shadowed(tmp_path, earlier, later) is expected


def test_shadow_message_names_both_rules(tmp_path):
    net = load(tmp_path, [{"action": "allow", "src": "a", "dst": "b", "proto": "modbus"},
                          {"action": "deny", "src": "h1", "dst": "b", "op": "modbus.write"}])
    (f,) = [f for f in lint(net) if f.kind == "shadowed"]
    lines = (tmp_path / "rules.yaml").read_text().splitlines()
    line = int(f.where.rsplit(":", 1)[1])
    assert lines[line - 1].strip() == "- action: deny"
    assert "rule #2 (deny) is shadowed by rule #1" in f.message and "its deny never applies" in f.message


def test_rules_that_never_match(tmp_path):
    net = load(tmp_path, [{"action": "allow", "src": "p1", "dst": "p2", "proto": "modbus"},  # inside zone b
                          {"action": "allow", "src": "10.7.0.0/24", "dst": "b"},               # no host there
                          {"action": "allow", "src": "empty", "dst": "b"},                     # a zone with no hosts
                          {"action": "allow", "src": "b", "dst": "h1"}])                       # fine: b -> a
    kinds = [(f.kind, f.rule_index) for f in lint(net)]
    assert kinds == [("never-matches", 0), ("never-matches", 1), ("never-matches", 2)]


def test_purdue_skip_and_dmz(tmp_path):
    net_text = NET.replace("  ab: {zones: [a, b], firewall: fw, rules: rules.yaml}\n",
                           "  ab: {zones: [a, b], firewall: fw, rules: rules.yaml}\n"
                           "  eb: {zones: [e, b], firewall: fw, rules: rules.yaml}\n")
    sections = {"ab": {"default": "deny"}, "eb": {"default": "deny"}}
    net = load(tmp_path, net=net_text, sections=sections)
    (f,) = [f for f in lint(net) if f.kind == "purdue-skip"]
    assert "conduit eb joins e (level 4) and b (level 1) without a DMZ" in f.message
    eb_line = next(i for i, text in enumerate(net_text.splitlines(), 1) if text.startswith("  eb:"))
    assert f.where == f"{tmp_path / 'network.yaml'}:{eb_line}"
    # a conduit with a DMZ (level 3.5) at one end is how levels are meant to be bridged: no warning
    dmz = net_text.replace("e: {level: 4,", "e: {level: 3.5,")
    assert not [f for f in lint(load(tmp_path, net=dmz, sections=sections)) if f.kind == "purdue-skip"]


def test_ambiguous_route(tmp_path):
    square = """\
zones:
  a: {level: 2, sl_t: 2, subnet: 10.1.0.0/24}
  b: {level: 1, sl_t: 2, subnet: 10.2.0.0/24}
  c: {level: 1, sl_t: 2, subnet: 10.3.0.0/24}
  d: {level: 1, sl_t: 2, subnet: 10.4.0.0/24}
hosts: {}
firewalls: {fw: {}}
conduits:
  ab: {zones: [a, b], firewall: fw, rules: rules.yaml}
  ac: {zones: [a, c], firewall: fw, rules: rules.yaml}
  bd: {zones: [b, d], firewall: fw, rules: rules.yaml}
  cd: {zones: [c, d], firewall: fw, rules: rules.yaml}
"""
    net = load(tmp_path, net=square, sections={c: {"default": "deny"} for c in ("ab", "ac", "bd", "cd")})
    assert net.topology.path("a", "d") == ("ab", "bd")  # declared first wins the tie
    found = [f.message for f in lint(net) if f.kind == "ambiguous-route"]
    assert any("zones a and d" in m and "ab -> bd" in m for m in found)


# --- errors, not findings --------------------------------------------------------------------------------------
def _err(tmp_path, **kw) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, **kw)
    return info.value


@pytest.mark.parametrize("src, message", [
    ("h11", "unknown host or zone 'h11'; did you mean 'h1'?"),
    ("zone:bb", "unknown zone 'bb'"),
    ("host:a", "unknown host 'a'"),
    ("role:scada", "no host has role 'scada'"),
    ("10.1.0.1/24", "has host bits set"),
    ("vlan:3", "unknown qualifier 'vlan'"),
])
def test_unknown_references_are_located(tmp_path, src, message):
    e = _err(tmp_path, rules=[{"action": "allow", "src": "h1", "dst": "b"},
                              {"action": "allow", "src": src, "dst": "b"}])
    lines = (tmp_path / "rules.yaml").read_text().splitlines()
    assert e.file == str(tmp_path / "rules.yaml") and e.field == "conduits.ab.rules[1].src"
    assert lines[e.line - 1].strip().startswith("src:") and message in e.message


def test_name_of_both_a_host_and_a_zone(tmp_path):
    net_text = NET.replace("  h2: {zone: a,", "  b2: {zone: a,").replace("zones:\n", "zones:\n  b2: {level: 1, "
                                                                             "sl_t: 1, subnet: 10.8.0.0/24}\n")
    e = _err(tmp_path, net=net_text, rules=[{"action": "allow", "src": "b2", "dst": "b"}])
    assert "both a host and a zone; write host:b2 or zone:b2" in e.message
    assert load(tmp_path, net=net_text, rules=[{"action": "allow", "src": "host:b2", "dst": "b"}])


@pytest.mark.parametrize("old, new, field, message", [
    ("p2: {zone: b, role: plc, address: 10.2.0.2}", "p2: {zone: b, role: plc, address: 10.2.0.1}",
     "hosts.p2.address", "10.2.0.1 is also the address of host p1"),
    ("p2: {zone: b, role: plc, address: 10.2.0.2}", "p2: {zone: b, role: plc, address: 10.1.0.9}",
     "hosts.p2.address", "10.1.0.9 is outside zone b's subnet 10.2.0.0/24"),
    ("b: {level: 1, sl_t: 3, subnet: 10.2.0.0/24}", "b: {level: 1, sl_t: 3, subnet: 10.2.0.1/24}",
     "zones.b.subnet", "10.2.0.1/24 has host bits set"),
    ("b: {level: 1, sl_t: 3, subnet: 10.2.0.0/24}", "b: {level: 1, sl_t: 3, subnet: 10.0.0.0/8}",
     "zones.b.subnet", "10.0.0.0/8 overlaps zone a's subnet 10.1.0.0/24"),
    ("p2: {zone: b,", "p2: {zone: bb,", "hosts.p2.zone", "unknown zone 'bb'; did you mean 'b'?"),
    ("firewall: fw,", "firewall: fw2,", "conduits.ab.firewall", "unknown firewall 'fw2'; did you mean 'fw'?"),
    ("zones: [a, b]", "zones: [a, x]", "conduits.ab.zones[1]", "unknown zone 'x'"),
    ("zones: [a, b]", "zones: [a, a]", "conduits.ab.zones", "two different zones"),
    ("role: plc, address: 10.2.0.2", "role: scada, address: 10.2.0.2", "hosts.p2.role", "input should be"),
    ("level: 1, sl_t: 3, subnet: 10.2", "level: 1.5, sl_t: 3, subnet: 10.2", "zones.b.level",
     "purdue level 1.5 is not one of"),
])
def test_model_errors_are_located(tmp_path, old, new, field, message):
    assert old in NET
    net_text = NET.replace(old, new, 1)
    e = _err(tmp_path, net=net_text)
    assert (e.file, e.field) == (str(tmp_path / "network.yaml"), field)
    assert message in e.message
    assert new in net_text.splitlines()[e.line - 1]  # every case edits one line: the error points at it
