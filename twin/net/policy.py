"""Policy evaluation: does a flow get through, and which rule said so.

`evaluate(policy, flow)` is called for every in-process client request (the
HMI polls four PLCs every second), so rules are compiled once, indexed by
operation, and decisions are cached by flow: a repeated poll is one dict
lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ops import Flow, Service
from .rules import CompiledRule
from .topology import ConduitInfo, Topology

_CACHE_LIMIT = 100_000  # distinct flows; an attacker sweeping addresses must not grow memory without bound


@dataclass(frozen=True)
class Hop:
    """One conduit's verdict on a flow."""

    conduit: str
    firewall: str
    allowed: bool
    rule: CompiledRule | None  # None: the conduit's default action
    default_where: str

    @property
    def where(self) -> str:
        return self.rule.where if self.rule is not None else self.default_where

    @property
    def short(self) -> str:
        return f"{self.conduit} {'#' + str(self.rule.index + 1) if self.rule else 'default'}"

    @property
    def label(self) -> str:
        if self.rule is None:
            return f"{self.conduit} default {'allow' if self.allowed else 'deny'} ({self.where})"
        return f"{self.conduit} rule #{self.rule.index + 1} {self.rule.action} ({self.where})"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    conduit: str | None        # the conduit that decided: the denying one, or the last one crossed
    rule_index: int | None     # 0-based in that conduit's list; None for a default action or no firewall
    rule_file: str | None
    rule_line: int | None
    reason: str
    hops: tuple[Hop, ...] = ()

    @property
    def where(self) -> str | None:
        return f"{self.rule_file}:{self.rule_line}" if self.rule_file else None

    @property
    def verdict(self) -> str:
        return "allowed" if self.allowed else "denied"


@dataclass
class ConduitPolicy:
    info: ConduitInfo
    default_allow: bool
    default_where: str
    rules: tuple[CompiledRule, ...]
    by_op: dict[str, tuple[CompiledRule, ...]] = field(init=False)

    def __post_init__(self) -> None:
        ops = {op for r in self.rules for op in r.ops}
        self.by_op = {op: tuple(r for r in self.rules if op in r.ops) for op in ops}

    @property
    def key(self) -> tuple:
        return (self.default_allow, tuple(r.key for r in self.rules))

    def first(self, src_bit: int, dst_bit: int, s: Service) -> Hop:
        for r in self.by_op.get(s.op, ()):
            if r.src & src_bit and r.dst & dst_bit and r.matches_service(s):
                return Hop(self.info.name, self.info.firewall, r.allow, r, self.default_where)
        return Hop(self.info.name, self.info.firewall, self.default_allow, None, self.default_where)


class Policy:
    def __init__(self, topology: Topology, conduits: dict[str, ConduitPolicy]) -> None:
        self.topology = topology
        self.conduits = conduits
        self._cache: dict[Flow, Decision] = {}

    def evaluate(self, flow: Flow) -> Decision:
        d = self._cache.get(flow)
        if d is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            d = self._cache[flow] = self.decide(flow)
        return d

    def decide(self, flow: Flow) -> Decision:
        topo = self.topology
        try:
            src, dst = topo.by_name[flow.src], topo.by_name[flow.dst]
        except KeyError as exc:
            raise ValueError(f"unknown host {exc.args[0]!r}") from None
        path = topo.path(src.zone, dst.zone)
        if path is None:
            return Decision(False, None, None, None, None,
                            f"no conduit path from zone {src.zone} to zone {dst.zone}")
        if not path:
            return Decision(True, None, None, None, None, f"same zone ({src.zone}): no firewall on the path")
        hops = []
        for cname in path:
            hop = self.conduits[cname].first(src.bit, dst.bit, flow.service)
            hops.append(hop)
            if not hop.allowed:
                break
        last = hops[-1]
        rule = last.rule
        file, _, line = last.where.rpartition(":")
        reason = f"{'allowed' if last.allowed else 'denied'} by {last.label}"
        if len(hops) > 1:  # name the conduits already crossed, so an allow is traceable hop by hop
            reason += f", after {', '.join(h.short for h in hops[:-1])}"
        return Decision(last.allowed, last.conduit, rule.index if rule else None, file, int(line), reason,
                        tuple(hops))


def evaluate(policy: Policy, flow: Flow) -> Decision:
    """The decision on one flow: allowed or not, the conduit and rule (file:line) that decided, and why."""
    return policy.evaluate(flow)
