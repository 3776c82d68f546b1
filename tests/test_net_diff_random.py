"""Differential tests on random plants and rule sets.

- The reachability matrix (per-conduit bitmasks) equals the definition: every atom between every host
  pair evaluated one by one.
- The fast diff (changed conduits, bitmask first-match per source class) finds exactly the changes a
  brute-force diff finds by evaluating every host pair, operation and atom in both networks.
- Atoms are exact: a concrete single-address (or single-node, single-port) request gets the decision of
  the atom it falls in; a multi-address request is allowed only if each of its addresses is.
"""

from __future__ import annotations

import random

import pytest
import yaml

from plcsim.requests import ModbusRequest, OpcRead, OpcWrite
from twin.net import TcpConnect, diff, flow_of, load_network, reachability
from twin.net.atoms import ServiceClass, atoms
from twin.net.flows import class_outcomes
from twin.net.ops import ANALYSED_OPS, Flow

ZONES = ["z0", "z1", "z2", "z3", "z4", "z5"]
LINKS = [("z0", "z1"), ("z1", "z2"), ("z1", "z3"), ("z3", "z4"), ("z2", "z5"), ("z2", "z4")]  # z1-z4: two paths
NODES = ["Filler.", "Filler.level", "Capper.", "Line.hmi_", "Line."]
PATHS = ["Filler.level", "Filler.level_hi_sp", "filler.state", "Capper.caps", "Line.hmi_start", "LINE.HMI_STOP",
         "Line.starts", "Qa.rejects"]


def plant(rng: random.Random) -> tuple[dict, dict[str, list[str]]]:
    zones = {z: {"level": 1, "sl_t": 2, "subnet": f"10.0.{i}.0/24"} for i, z in enumerate(ZONES)}
    roles = ["plc", "hmi", "ews"]
    hosts = {f"{z}h{j}": {"zone": z, "role": roles[j], "address": f"10.0.{i}.{j + 1}"}
             for i, z in enumerate(ZONES) for j in range(3)}
    conduits = {f"{a}-{b}": [a, b] for a, b in LINKS}
    net = {"zones": zones, "hosts": hosts, "firewalls": {"fw": {}},
           "conduits": {c: {"zones": zs, "firewall": "fw", "rules": "rules.yaml"} for c, zs in conduits.items()}}
    return net, conduits


def endpoint(rng: random.Random, net: dict) -> str | list:
    r = rng.random()
    if r < 0.4:
        return rng.choice(list(net["hosts"]))
    if r < 0.6:
        return rng.choice(ZONES)
    if r < 0.7:
        return rng.choice(["role:plc", "role:hmi", "role:ews"])
    if r < 0.8:
        return f"10.0.{rng.randrange(6)}.0/{rng.choice([24, 31, 30])}"
    if r < 0.9:
        return "any"
    return [rng.choice(list(net["hosts"])), rng.choice(ZONES)]


def random_rule(rng: random.Random, net: dict) -> dict:
    rule: dict = {"action": rng.choice(["allow", "allow", "deny"]), "src": endpoint(rng, net),
                  "dst": endpoint(rng, net)}
    k = rng.random()
    if k < 0.4:
        rule["op"] = rng.choice(["modbus.read", "modbus.write", "modbus.diag"])
        if rule["op"] != "modbus.diag" and rng.random() < 0.7:
            table = rng.choice(["coils", "holding_registers"] if rule["op"] == "modbus.write"
                               else ["coils", "holding_registers", "input_registers", "discrete_inputs"])
            lo = rng.randrange(0, 40)
            rule["modbus"] = {table: [f"{lo}-{lo + rng.randrange(0, 20)}", rng.randrange(0, 60)]}
        if rule["op"] == "modbus.write" and rng.random() < 0.3:
            rule.setdefault("modbus", {})["fc"] = rng.choice([[5, 15], [6, 16], "5-6", [23]])
            table = next(iter(t for t in rule["modbus"] if t != "fc"), None)
            if table == "coils" and rule["modbus"]["fc"] in ([6, 16], [23]) or \
                    table == "holding_registers" and rule["modbus"]["fc"] == [5, 15]:
                del rule["modbus"][table]
    elif k < 0.7:
        rule["op"] = rng.choice(["opcua.read", "opcua.write", "opcua.call", "opcua.browse"])
        u = {}
        if rng.random() < 0.6:
            u["node"] = rng.sample(NODES, rng.randrange(1, 3))
        if rng.random() < 0.4:
            u["security"] = rng.sample(["None", "Sign", "SignAndEncrypt"], rng.randrange(1, 3))
        if u:
            rule["opcua"] = u
    elif k < 0.8:
        rule["op"] = "program_download"
    elif k < 0.9:
        rule["op"] = "tcp"
        rule["port"] = rng.choice([22, "8000-8099", [80, 443], "1-1023"])
    else:
        rule["proto"] = rng.choice(["modbus", "opcua", "tcp"])
    return rule


def rulesets(rng: random.Random, net: dict, conduits: dict):
    base = {c: {"default": rng.choice(["deny", "deny", "allow"]), "rules": [random_rule(rng, net)
                                                                         for _ in range(rng.randrange(3, 10))]}
            for c in conduits}
    edited = {c: {"default": s["default"], "rules": [dict(r) for r in s["rules"]]} for c, s in base.items()}
    for c in rng.sample(list(conduits), rng.randrange(1, 4)):
        rs = edited[c]["rules"]
        for _ in range(rng.randrange(1, 4)):
            what = rng.random()
            if what < 0.3 and rs:
                r = rng.choice(rs)
                r["action"] = "deny" if r["action"] == "allow" else "allow"
            elif what < 0.6:
                rs.insert(rng.randrange(len(rs) + 1), random_rule(rng, net))
            elif what < 0.8 and rs:
                del rs[rng.randrange(len(rs))]
            else:
                edited[c]["default"] = "allow" if edited[c]["default"] == "deny" else "deny"
    return base, edited


def build(tmp_path, seed: int):
    rng = random.Random(seed)
    net, conduits = plant(rng)
    base, edited = rulesets(rng, net, conduits)
    (tmp_path / "network.yaml").write_text(yaml.safe_dump(net))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"conduits": base}))
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump({"conduits": edited}))
    return load_network(tmp_path / "network.yaml"), load_network(tmp_path / "network.yaml", tmp_path / "edited.yaml")


def brute_force(a, b) -> set:
    out = set()
    topo = a.topology
    for s in topo.hosts:
        for d in topo.hosts:
            if s.zone == d.zone:
                continue
            path = topo.path(s.zone, d.zone)
            rules = [r for net in (a, b) for c in path for r in net.policy.conduits[c].rules]
            for op in ANALYSED_OPS:
                for atom in atoms(ServiceClass(op), rules):
                    f = Flow(s.name, d.name, atom.service)
                    if a.policy.decide(f).allowed != b.policy.decide(f).allowed:
                        out.add((s.name, d.name, op, atom.service))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_fast_diff_equals_brute_force(tmp_path, seed):
    a, b = build(tmp_path, seed)
    assert ("z1", "z4") in a.topology.ambiguous_routes
    fast = {(c.src, c.dst, c.op, atom.service) for c in diff(a, b) for atom in c.atoms}
    assert fast == brute_force(a, b)


def _atom_of(net, src: str, dst: str, flow: Flow):
    topo = net.topology
    path = topo.path(topo.by_name[src].zone, topo.by_name[dst].zone)
    rules = [r for c in path for r in net.policy.conduits[c].rules]
    s = flow.service
    for atom in atoms(ServiceClass(s.op), rules):
        r = atom.service
        if not atom.ports[0] <= s.port < atom.ports[1] or r.fc != s.fc:
            continue
        if s.ranges and not (atom.table == s.ranges[0][0] and atom.span[0] <= s.ranges[0][1] < atom.span[1]):
            continue
        if s.nodes and not (s.nodes[0].startswith(atom.node) and not any(s.nodes[0].startswith(x)
                                                                          for x in atom.node_except)):
            continue
        if s.security is not None and s.security not in atom.security:
            continue
        return atom
    raise AssertionError(f"no atom holds {flow}")


@pytest.mark.parametrize("seed", range(10))
def test_atoms_are_exact(tmp_path, seed):
    a, _b = build(tmp_path, 100 + seed)
    rng = random.Random(seed)
    hosts = [h.name for h in a.topology.hosts]
    for _ in range(300):
        s, d = rng.sample(hosts, 2)
        if a.topology.by_name[s].zone == a.topology.by_name[d].zone:
            continue
        k = rng.random()
        if k < 0.5:
            fc = rng.choice([1, 2, 3, 4, 5, 6, 15, 16])
            addr = rng.randrange(0, 70)
            req = ModbusRequest(fc, address=addr, count=1, values=(1,))
        elif k < 0.8:
            path = rng.choice(PATHS)
            req = OpcRead((path,)) if rng.random() < 0.5 else OpcWrite(path, 1)
        else:
            req = TcpConnect(rng.choice([21, 22, 23, 80, 443, 1023, 1024, 8000, 8099, 8100]))
        flow = flow_of(s, d, req, security=rng.choice(["None", "Sign", "SignAndEncrypt"]))
        atom = _atom_of(a, s, d, flow)
        assert a.policy.decide(flow).allowed == a.policy.decide(Flow(s, d, atom.service)).allowed, (flow, atom)
    # a multi-address request is allowed only if every address in it is
    for _ in range(200):
        s, d = rng.sample(hosts, 2)
        fc, addr, n = rng.choice([3, 1, 16, 15]), rng.randrange(0, 60), rng.randrange(2, 12)
        req = ModbusRequest(fc, address=addr, count=n, values=(1,) * n if fc in (15, 16) else ())
        if a.policy.decide(flow_of(s, d, req)).allowed:
            for x in range(addr, addr + n):
                one = ModbusRequest(fc, address=x, count=1, values=(1,) if fc in (15, 16) else ())
                assert a.policy.decide(flow_of(s, d, one)).allowed


@pytest.mark.parametrize("seed", range(8))
def test_reachability_equals_its_definition(tmp_path, seed):
    a, b = build(tmp_path, 200 + seed)
    for net in (a, b):
        matrix = reachability(net)
        cache: dict = {}
        for s in net.topology.hosts:
            for d in net.topology.hosts:
                if s is d:
                    continue
                path = net.topology.path(s.zone, d.zone)
                for op in matrix.ops:
                    if path == ():
                        expected = "same-zone"
                    else:
                        verdicts = {dec.allowed for _f, dec, _a in
                                    class_outcomes(net, s.name, d.name, ServiceClass(op), cache)}
                        expected = "partial" if len(verdicts) == 2 else ("allowed" if True in verdicts else "denied")
                    assert matrix.cell(s.name, d.name, op).status == expected, (s.name, d.name, op)
