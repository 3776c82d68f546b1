"""Declared flows (required, forbidden, intent, a scenario's steady-state flows) checked against a policy.

A declared flow is a class of requests: every host pair of from x to, every operation named, every
function code, address, node and security mode the flow admits. `expect: allowed` passes when every
request of the class is allowed; `expect: denied` when every one is denied. A class that is partly
allowed fails both, with a counterexample and the rule (file:line) that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

from .atoms import Atom, ServiceClass, atoms, class_of
from .loader import DeclaredFlow, Network, declare
from .ops import ANALYSED_OPS, Flow
from .policy import Decision
from .schema import FlowSpec


@dataclass
class FlowResult:
    flow: DeclaredFlow
    allowed: int = 0           # requests (atoms x host pairs) allowed
    denied: int = 0
    counterexample: tuple[Flow, Decision, Atom] | None = None
    deciders: list[str] = field(default_factory=list)  # the rules that decided, in order of first use
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        if self.allowed + self.denied == 0:
            return False
        return (self.denied == 0) if self.flow.expect == "allowed" else (self.allowed == 0)

    @property
    def outcome(self) -> str:
        if self.allowed + self.denied == 0:
            return "no host pair"
        if self.denied == 0:
            return "allowed"
        return "denied" if self.allowed == 0 else "partly allowed"


def ops_of(spec: FlowSpec) -> list[str]:
    return list(ANALYSED_OPS) if "any" in spec.op else list(dict.fromkeys(spec.op))


def class_outcomes(network: Network, src: str, dst: str, cls: ServiceClass, cache: dict,
                   extra: tuple[ServiceClass, ...] = ()) -> Iterator[tuple[Flow, Decision, Atom]]:
    """Every atom of `cls` between two hosts, with its decision. `cache` keeps atoms per (path, class)."""
    topo, policy = network.topology, network.policy
    path = topo.host_path(src, dst)
    key = (path, cls)
    found = cache.get(key)
    if found is None:
        rules = [r for c in path or () for r in policy.conduits[c].rules]
        found = cache[key] = atoms(cls, rules, extra)
    for atom in found:
        flow = Flow(src, dst, atom.service)
        yield flow, policy.evaluate(flow), atom


def check_flows(network: Network, flows: Iterable[DeclaredFlow | FlowSpec | Mapping] | None = None) -> list[FlowResult]:
    """Check declared flows; by default the network's required and forbidden flows. Plain mappings
    (`{from: hmi, to: filler_plc, op: modbus.read, expect: allowed}`) are accepted too."""
    if flows is None:
        items = network.declared
    else:
        items = []
        for f in flows:
            items.extend([f] if isinstance(f, DeclaredFlow) else declare(network.topology, [f], "flow"))
    from .lint import shadows

    shadow_map = shadows(network)
    cache: dict = {}
    results = []
    for df in items:
        res = FlowResult(df)
        for s in network.topology.names(df.src):
            for d in network.topology.names(df.dst):
                if s == d:
                    continue
                for op in ops_of(df.spec):
                    for flow, dec, atom in class_outcomes(network, s, d, class_of(df.spec, op), cache):
                        _tally(res, flow, dec, atom)
        if res.counterexample is not None:
            res.notes.extend(_shadow_notes(res.counterexample[1], shadow_map))
        results.append(res)
    return results


def _tally(res: FlowResult, flow: Flow, dec: Decision, atom: Atom) -> None:
    if dec.allowed:
        res.allowed += 1
    else:
        res.denied += 1
    label = _decider(dec)
    if label not in res.deciders:
        res.deciders.append(label)
    wrong = dec.allowed != (res.flow.expect == "allowed")
    if wrong and res.counterexample is None:
        res.counterexample = (flow, dec, atom)


def _decider(dec: Decision) -> str:
    if dec.conduit is None:
        return dec.reason
    return dec.hops[-1].label


def _shadow_notes(dec: Decision, shadow_map) -> list[str]:
    notes = []
    for hop in dec.hops:
        if hop.rule is None:
            continue
        for later in shadow_map.get((hop.conduit, hop.rule.index), ()):
            notes.append(f"shadowing: {hop.conduit} rule #{hop.rule.index + 1} ({hop.rule.where}) shadows "
                         f"rule #{later.index + 1} ({later.where}, {later.action}), which never applies")
    return notes
