"""Differential reachability: which flows change outcome between two rule sets, and which rule did it.

Finding the changes without enumerating hosts x hosts x operations x rules:
1. only conduits whose compiled rules differ can change anything (on one topology);
2. at such a conduit, atoms (atoms.py) cut from both versions' rules whose relevant rule lists are equal
   cannot change there; for the others, sources are grouped into classes no rule tells apart, and each
   class's allowed destinations are computed as bitmasks, first match wins, for both versions: the XOR
   is every (source, destination) whose verdict at this conduit changed;
3. only those candidates are evaluated end to end over their whole path, atom by atom (cut by every rule
   on the path), in both networks: a change at one conduit may be hidden by another that denies anyway.

The result then follows Batfish's differential-reachability recipe when the proposed rules declare
`intent:` flows: (1) the intended change was not already in effect, (2) it is fully in effect,
(3) nothing outside it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .atoms import Atom, ServiceClass, atoms, class_of, contains
from .bitsets import allowed, bits, classes
from .flows import FlowResult, check_flows, ops_of
from .loader import DeclaredFlow, Network
from .ops import ANALYSED_OPS, Flow
from .policy import Decision, Hop
from .topology import Topology


@dataclass
class FlowChange:
    src: str
    dst: str
    op: str
    atoms: list[Atom]          # the parts of the operation whose outcome changed (merged into one row)
    example: Flow              # one concrete request among them
    before: Decision
    after: Decision
    responsible: Hop           # the conduit verdict that changed, as the new rules have it
    was: Hop | None            # that conduit's verdict under the old rules (None: the old path stopped earlier)
    in_intent: bool = False

    @property
    def change(self) -> str:
        return f"{self.before.verdict}->{self.after.verdict}"


@dataclass
class Step:
    number: int
    title: str
    status: str                # pass | fail | skipped
    detail: str
    items: list = field(default_factory=list)


@dataclass
class DiffReport:
    before: Network
    after: Network
    changed_conduits: list[str]
    changes: list[FlowChange]
    steps: list[Step]
    declared: list[tuple[FlowResult, FlowResult]]  # required/forbidden flows whose result changed

    @property
    def ok(self) -> bool:
        return all(s.status != "fail" for s in self.steps)


def diff(a: Network, b: Network, intent: list[DeclaredFlow] | None = None) -> list[FlowChange]:
    """Every flow whose outcome differs between networks `a` and `b` (same topology, different rules)."""
    _same_topology(a.topology, b.topology)
    topo = a.topology
    extra = tuple(class_of(df.spec, op) for df in intent or () for op in ops_of(df.spec))
    changed = [c for c in topo.conduits if a.policy.conduits[c].key != b.policy.conduits[c].key]
    candidates: dict[tuple[int, int], set[str]] = {}
    for c in changed:
        _detect(topo, a, b, c, extra, candidates)
    hosts = topo.hosts
    out: list[FlowChange] = []
    atom_cache: dict = {}
    for (si, di) in sorted(candidates):
        s, d = hosts[si].name, hosts[di].name
        path = topo.path(hosts[si].zone, hosts[di].zone)
        for op in ANALYSED_OPS:
            if op not in candidates[(si, di)]:
                continue
            key = (path, op)
            if key not in atom_cache:
                rules = [r for net in (a, b) for cn in path for r in net.policy.conduits[cn].rules]
                atom_cache[key] = atoms(ServiceClass(op), rules, extra)
            groups: dict[tuple, FlowChange] = {}
            for atom in atom_cache[key]:
                flow = Flow(s, d, atom.service)
                before, after = a.policy.decide(flow), b.policy.decide(flow)
                if before.allowed == after.allowed:
                    continue
                inside = any(df.src >> si & 1 and df.dst >> di & 1 and contains(class_of(df.spec, op), atom)
                             for df in intent or () if op in ops_of(df.spec))
                gkey = (_hops_key(before), _hops_key(after), inside)
                if gkey in groups:
                    groups[gkey].atoms.append(atom)
                else:
                    groups[gkey] = FlowChange(s, d, op, [atom], flow, before, after,
                                              *_responsible(before, after), inside)
            out.extend(groups.values())
    return out


def differential(a: Network, b: Network, intent: list[DeclaredFlow] | None = None) -> DiffReport:
    """`diff` plus the three-step check of the intent (default: the intent declared by `b`'s rules file)."""
    intent = b.intent if intent is None else intent
    changes = diff(a, b, intent)
    changed = [c for c in a.topology.conduits if a.policy.conduits[c].key != b.policy.conduits[c].key]
    steps = []
    if intent:
        already = [r for r in check_flows(a, intent) if r.ok]
        steps.append(Step(1, "the intended change was not already in effect", "fail" if already else "pass",
                          f"{len(already)} of {len(intent)} intent flows already held before the change"
                          if already else f"none of the {len(intent)} intent flows held before", already))
        after = check_flows(b, intent)
        missing = [r for r in after if not r.ok]
        steps.append(Step(2, "the intended change is fully in effect", "fail" if missing else "pass",
                          f"{len(missing)} of {len(intent)} intent flows do not hold after the change"
                          if missing else f"all {len(intent)} intent flows hold", missing))
    else:
        for n, title in ((1, "the intended change was not already in effect"),
                         (2, "the intended change is fully in effect")):
            steps.append(Step(n, title, "skipped", "the proposed rules declare no intent:"))
    outside = [ch for ch in changes if not ch.in_intent]
    if not changes:
        detail = "no flow changed"
    elif not intent:
        detail = f"{len(outside)} changed flows, and no intent: declares any change"
    else:
        detail = (f"{len(outside)} of {len(changes)} changed flows lie outside the intent" if outside
                  else f"all {len(changes)} changed flows lie inside the intent")
    steps.append(Step(3, "nothing outside the intended change changed", "fail" if outside else "pass", detail,
                      outside))
    declared = [(x, y) for x, y in zip(check_flows(a), check_flows(b)) if x.ok != y.ok]
    return DiffReport(a, b, changed, changes, steps, declared)


def _same_topology(x: Topology, y: Topology) -> None:
    hx = [(h.name, h.zone, h.address) for h in x.hosts]
    hy = [(h.name, h.zone, h.address) for h in y.hosts]
    cx = [(c.name, c.zones) for c in x.conduits.values()]
    cy = [(c.name, c.zones) for c in y.conduits.values()]
    if hx != hy or cx != cy:
        raise ValueError("diff compares two rule sets on one topology; the hosts or conduits differ")


def _detect(topo: Topology, a: Network, b: Network, conduit: str, extra: tuple[ServiceClass, ...],
            candidates: dict[tuple[int, int], set[str]]) -> None:
    """Add every (src, dst) whose verdict at `conduit` differs between a and b, per operation."""
    pa, pb = a.policy.conduits[conduit], b.policy.conduits[conduit]
    cross = topo.crossing(conduit)
    zone_classes = [(z, topo.zones[z].mask) for z in cross if topo.zones[z].mask]
    for op in ANALYSED_OPS:
        ra, rb = pa.by_op.get(op, ()), pb.by_op.get(op, ())
        if not ra and not rb and pa.default_allow == pb.default_allow:
            continue
        seen: set[tuple] = set()
        for atom in atoms(ServiceClass(op), ra + rb, extra):
            rel_a = tuple(r for r in ra if r.matches_service(atom.service))
            rel_b = tuple(r for r in rb if r.matches_service(atom.service))
            sig = (tuple(r.key for r in rel_a), tuple(r.key for r in rel_b))
            if sig in seen or (sig[0] == sig[1] and pa.default_allow == pb.default_allow):
                continue
            seen.add(sig)
            for zone, members in zone_classes:
                for cls in classes(members, [r.src for r in rel_a + rel_b]):
                    rep = cls & -cls
                    dsts = cross[zone]
                    x = allowed(rel_a, rep, dsts, pa.default_allow) ^ allowed(rel_b, rep, dsts, pb.default_allow)
                    if x:
                        for si in bits(cls):
                            for di in bits(x):
                                candidates.setdefault((si, di), set()).add(op)


def _hops_key(d: Decision) -> tuple:
    return tuple((h.conduit, h.allowed, h.where) for h in d.hops) or (d.reason,)


def _responsible(before: Decision, after: Decision) -> tuple[Hop, Hop | None]:
    """The first conduit on the path whose verdict changed, as the new rules have it, and as the old ones
    had it (the outcomes differ, so some hop's verdict does, or one side stopped earlier)."""
    for i in range(max(len(before.hops), len(after.hops))):
        hb = before.hops[i] if i < len(before.hops) else None
        ha = after.hops[i] if i < len(after.hops) else None
        if ha is None:
            return hb, None  # unreachable on one topology: both sides cross the same conduits
        if hb is None or hb.allowed != ha.allowed:
            return ha, hb
    return after.hops[-1], before.hops[-1] if before.hops else None
