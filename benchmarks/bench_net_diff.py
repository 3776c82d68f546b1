"""`twin net diff` on generated plants: wall time of the diff, and its growth as the plant doubles.

A plant of Z zones in a Purdue tree (enterprise - DMZ - supervisory areas - control cells - field zones),
H hosts (10 per zone) and R rules over its conduits (~R/Z per conduit: host, zone and CIDR sources, Modbus
function codes and register ranges, OPC UA services, node prefixes and security modes, TCP ports, allows
and denies). The proposed rule set edits the reference one in two ways:
- typical: 10 % of the conduits get a few edits (a flipped action, a narrowed range, an inserted deny, a
  deleted rule);
- everywhere: every conduit gets one edit.

Prints the diff time on the reference (bottling) network for scale; then, for each size: load time
(YAML parsing dominates it), diff time for both changes, flows changed, and the time of `net check`'s
reachability matrix; then the growth ratio of the diff
time per doubling against the growth of hosts x rules (goal: near-linear in hosts x rules, i.e. a ratio
near 4 or below, and under 2 s for 50 zones / 500 hosts / 2000 rules). The diff's output grows with the
plant too, so the time per reported change is printed as well.

    .venv/bin/python benchmarks/bench_net_diff.py [--sizes 25,50,100] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twin.net import check_flows, diff, load_network, reachability  # noqa: E402

HOSTS_PER_ZONE = 10
RULES_PER_ZONE = 40


def plant(n_zones: int) -> tuple[dict, dict[str, list[str]]]:
    """The network file's content, and conduit -> [zone a, zone b]."""
    n_sup = max(1, n_zones * 4 // 25)
    n_ctrl = (n_zones - 2 - n_sup) // 2
    n_field = n_zones - 2 - n_sup - n_ctrl
    zones: dict[str, dict] = {}
    names: list[tuple[str, float]] = [("enterprise", 4), ("dmz", 3.5)]
    names += [(f"sup{i}", 2) for i in range(n_sup)]
    names += [(f"cell{i}", 1) for i in range(n_ctrl)]
    names += [(f"field{i}", 0) for i in range(n_field)]
    for k, (z, lvl) in enumerate(names):
        zones[z] = {"level": lvl, "sl_t": 2, "subnet": f"10.{k // 256}.{k % 256}.0/24"}
    role_of = {4: "it-workstation", 3.5: "jump-host", 2: "hmi", 1: "plc", 0: "io"}
    hosts = {}
    for k, (z, lvl) in enumerate(names):
        for h in range(HOSTS_PER_ZONE):
            hosts[f"{z}_h{h}"] = {"zone": z, "role": role_of[lvl], "address": f"10.{k // 256}.{k % 256}.{h + 10}"}
    conduits: dict[str, list[str]] = {"c_enterprise_dmz": ["enterprise", "dmz"]}
    for i in range(n_sup):
        conduits[f"c_dmz_sup{i}"] = ["dmz", f"sup{i}"]
    for i in range(n_ctrl):
        conduits[f"c_sup{i % n_sup}_cell{i}"] = [f"sup{i % n_sup}", f"cell{i}"]
    for i in range(n_field):
        conduits[f"c_cell{i % n_ctrl}_field{i}"] = [f"cell{i % n_ctrl}", f"field{i}"]
    net = {"zones": zones, "hosts": hosts, "firewalls": {"fw": {}},
           "conduits": {c: {"zones": zs, "firewall": "fw", "rules": "rules/base.yaml"} for c, zs in conduits.items()}}
    return net, conduits


def _side_hosts(net: dict, conduit_zones: list[str], side: int) -> list[str]:
    return [h for h, spec in net["hosts"].items() if spec["zone"] == conduit_zones[side]]


def random_rule(rng: random.Random, net: dict, zs: list[str]) -> dict:
    a, b = (0, 1) if rng.random() < 0.7 else (1, 0)

    def endpoint(side: int):
        r = rng.random()
        if r < 0.55:
            return rng.choice(_side_hosts(net, zs, side))
        if r < 0.85:
            return zs[side]
        subnet = net["zones"][zs[side]]["subnet"]
        base = subnet.rsplit(".", 1)[0]
        return f"{base}.{rng.choice([0, 16])}/28" if rng.random() < 0.5 else subnet

    rule: dict = {"action": "allow" if rng.random() < 0.75 else "deny", "src": endpoint(a), "dst": endpoint(b)}
    kind = rng.random()
    if kind < 0.35:
        rule["op"] = rng.choice(["modbus.read", "modbus.write"])
        if rng.random() < 0.6:
            lo = rng.randrange(0, 4000, 8)
            table = "coils" if rule["op"] == "modbus.write" and rng.random() < 0.5 else "holding_registers"
            rule["modbus"] = {table: f"{lo}-{lo + rng.choice([1, 7, 63, 255])}"}
    elif kind < 0.55:
        rule["op"] = rng.choice(["opcua.read", "opcua.write", "opcua.browse", "opcua.call"])
        u = {}
        if rng.random() < 0.5:
            u["node"] = rng.choice(["Filler.", "Capper.", "Line.", "Qa.", "Filler.level", "Line.hmi_"])
        if rng.random() < 0.4:
            u["security"] = rng.choice(["SignAndEncrypt", ["Sign", "SignAndEncrypt"]])
        if u:
            rule["opcua"] = u
    elif kind < 0.65:
        rule["op"] = "program_download"
    elif kind < 0.85:
        rule["op"] = "tcp"
        rule["port"] = rng.choice([22, 80, 443, 3389, "8000-8099", 5900])
    else:
        rule["proto"] = rng.choice(["modbus", "opcua", "tcp"])
    return rule


def rules_for(net: dict, conduits: dict[str, list[str]], total: int, seed: int) -> dict:
    rng = random.Random(seed)
    names = list(conduits)
    per = {c: [] for c in names}
    for i in range(total):
        c = names[i % len(names)]
        per[c].append(random_rule(rng, net, conduits[c]))
    return {"conduits": {c: {"default": "deny", "rules": rs} for c, rs in per.items()}}


def edit(rules: dict, net: dict, conduits: dict[str, list[str]], fraction: float, edits: int, seed: int) -> dict:
    rng = random.Random(seed)
    names = list(conduits)
    chosen = rng.sample(names, max(1, round(len(names) * fraction)))
    out = {"conduits": {}}
    for c in chosen:
        rs = [dict(r) for r in rules["conduits"][c]["rules"]]
        for _ in range(edits):
            what = rng.random()
            i = rng.randrange(len(rs))
            if what < 0.3:
                rs[i]["action"] = "deny" if rs[i]["action"] == "allow" else "allow"
            elif what < 0.55 and rs[i].get("modbus"):
                (table, span), = rs[i]["modbus"].items()
                lo, hi = map(int, span.split("-"))
                rs[i]["modbus"] = {table: f"{lo}-{max(lo, (lo + hi) // 2)}"}
            elif what < 0.8:
                rs.insert(i, {**random_rule(rng, net, conduits[c]), "action": "deny"})
            else:
                del rs[i]
        out["conduits"][c] = {"default": "deny", "rules": rs}
    return out


def build(tmp: Path, n_zones: int, seed: int):
    net, conduits = plant(n_zones)
    base = rules_for(net, conduits, RULES_PER_ZONE * n_zones, seed + 1)
    (tmp / "rules").mkdir(parents=True, exist_ok=True)
    (tmp / "network.yaml").write_text(yaml.safe_dump(net, sort_keys=False))
    (tmp / "rules/base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    (tmp / "typical.yaml").write_text(yaml.safe_dump(edit(base, net, conduits, 0.10, 3, seed + 2), sort_keys=False))
    (tmp / "everywhere.yaml").write_text(yaml.safe_dump(edit(base, net, conduits, 1.0, 1, seed + 3),
                                                        sort_keys=False))
    return len(net["hosts"]), sum(len(c["rules"]) for c in base["conduits"].values())


def timed(fn, repeat: int = 3):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25,50,100", help="zone counts, each double the last")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    bottling = Path(__file__).resolve().parent.parent / "scenarios/bottling"
    ref_a = load_network(bottling / "network.yaml")
    ref_b = load_network(bottling / "network.yaml", bottling / "rules/proposed-good.yaml")
    t_ref, ch_ref = timed(lambda: diff(ref_a, ref_b), 5)
    print(f"reference network (bottling, {len(ref_a.topology.hosts)} hosts, "
          f"{sum(len(c.rules) for c in ref_a.policy.conduits.values())} rules), baseline -> proposed-good: "
          f"diff {t_ref * 1000:.1f} ms ({len(ch_ref)} changes)")
    rows = []
    for n_zones in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            n_hosts, n_rules = build(tmp, n_zones, args.seed)
            t_load, ref = timed(lambda: load_network(tmp / "network.yaml"), 1)
            typical = load_network(tmp / "network.yaml", tmp / "typical.yaml")
            everywhere = load_network(tmp / "network.yaml", tmp / "everywhere.yaml")
            t_typ, ch_typ = timed(lambda: diff(ref, typical))
            t_all, ch_all = timed(lambda: diff(ref, everywhere))
            t_reach, _ = timed(lambda: (reachability(ref), check_flows(ref)), 1)
        rows.append((n_zones, n_hosts, n_rules, t_load, t_typ, len(ch_typ), t_all, len(ch_all)))
        print(f"zones {n_zones:4d}  hosts {n_hosts:5d}  rules {n_rules:5d}  load {t_load:6.2f} s  "
              f"diff typical {t_typ:6.3f} s ({len(ch_typ)} changes)  "
              f"diff everywhere {t_all:6.3f} s ({len(ch_all)} changes; "
              f"{t_all / max(len(ch_all), 1) * 1e3:.2f} ms per change)  check (matrix) {t_reach:5.2f} s",
              flush=True)
    for prev, cur in zip(rows, rows[1:]):
        work = (cur[1] * cur[2]) / (prev[1] * prev[2])
        print(f"{prev[0]} -> {cur[0]} zones: hosts x rules x{work:.1f}; diff time typical x{cur[4] / prev[4]:.2f}, "
              f"everywhere x{cur[6] / prev[6]:.2f}")
    ref_row = next((r for r in rows if r[0] == 50), None)
    if ref_row:
        print(f"50 zones / {ref_row[1]} hosts / {ref_row[2]} rules: diff {ref_row[4]:.3f} s typical, "
              f"{ref_row[6]:.3f} s everywhere (goal < 2 s)")


if __name__ == "__main__":
    main()
