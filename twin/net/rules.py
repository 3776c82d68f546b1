"""Rules compiled into matchers, and the subset test behind shadowed-rule detection.

Matching (first match wins; the conduit's default applies when none does):
- src/dst: the host bitmasks their specs resolve to;
- proto: `tcp` covers Modbus, OPC UA and eng too (they run over TCP, as nftables sees them);
- Modbus address ranges: an *allow* rule matches a request only when every address the request touches lies
  within the rule's ranges; a *deny* rule matches when any address does. A request partly outside an allow
  rule is therefore not allowed by it, and one partly inside a deny rule is denied: both fail closed.
  A rule naming ranges matches only requests that touch a table it names (FC 43 touches none);
- OPC UA nodes: the same with NodeId prefixes (case-insensitive, as plcsim resolves tags);
- everything else is plain set membership.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.yaml_source import YamlDoc
from . import intervals as iv
from .ops import (ADDRESS_SPACE, FUNCTION_CODES, MODBUS, OPCUA, OPS, OPS_BY_PROTO, PROTO_OF_OP, PROTOCOLS,
                  SECURITY_MODES, TABLES, TCP, Service)
from .schema import Rule
from .topology import Topology

FULL = ((0, ADDRESS_SPACE),)
_KNOWN_FCS = iv.merge((fc, fc + 1) for fc in FUNCTION_CODES)
FCS_OF_OP = {op: iv.merge((fc, fc + 1) for fc, (o, _t) in FUNCTION_CODES.items() if o == op)
             for op in ("modbus.read", "modbus.write", "modbus.diag")}
FCS_OF_OP["modbus.other"] = iv.complement(_KNOWN_FCS, 1, 128)
MODBUS_OPS = frozenset(OPS_BY_PROTO[MODBUS])
OPCUA_OPS = frozenset(OPS_BY_PROTO[OPCUA])
# what a rule's `proto` admits: tcp carries the application protocols
PROTO_MATCHES = {p: frozenset({p}) for p in PROTOCOLS}
PROTO_MATCHES[TCP] = frozenset({TCP, MODBUS, OPCUA, "eng"})


@dataclass(frozen=True, eq=False)
class CompiledRule:
    conduit: str
    index: int          # position in the conduit's list, 0-based (shown 1-based as #n)
    file: str
    line: int
    allow: bool
    src: int
    dst: int
    ops: frozenset[str]                     # effective: `op`, `proto`, `modbus`, `opcua` all narrow it
    ports: iv.Intervals | None
    fcs: iv.Intervals | None
    tables: dict[str, iv.Intervals] | None  # None: any address (and requests without addresses)
    nodes: tuple[str, ...] | None           # lower-cased NodeId prefixes
    security: frozenset[str] | None
    spec: Rule

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def action(self) -> str:
        return "allow" if self.allow else "deny"

    @property
    def key(self) -> tuple:
        """What the rule matches and does, without where it is written: equal keys, equal rules."""
        tables = None if self.tables is None else tuple(sorted(self.tables.items()))
        return (self.allow, self.src, self.dst, self.ops, self.ports, self.fcs, tables, self.nodes, self.security)

    def matches_service(self, s: Service) -> bool:
        if s.op not in self.ops:
            return False
        if self.ports is not None and not iv.contains(self.ports, s.port, s.port + 1):
            return False
        if self.fcs is not None and (s.fc is None or not iv.contains(self.fcs, s.fc, s.fc + 1)):
            return False
        if self.tables is not None:
            if not s.ranges:
                return False
            t = self.tables
            if self.allow:
                if not all(tb in t and iv.contains(t[tb], lo, hi) for tb, lo, hi in s.ranges):
                    return False
            elif not any(tb in t and iv.overlaps(t[tb], lo, hi) for tb, lo, hi in s.ranges):
                return False
        if self.nodes is not None:
            if not s.nodes:
                return False
            under = [any(n.startswith(p) for p in self.nodes) for n in s.nodes]
            if not (all(under) if self.allow else any(under)):
                return False
        if self.security is not None and s.security not in self.security:
            return False
        return True

    def matches(self, src_bit: int, dst_bit: int, s: Service) -> bool:
        return bool(self.src & src_bit) and bool(self.dst & dst_bit) and self.matches_service(s)

    # --- for shadowing and analysis ------------------------------------------------------------------------
    def eff_fcs(self) -> iv.Intervals:
        """Function codes of the Modbus requests this rule can match."""
        ops_fcs = iv.merge(p for op in self.ops & MODBUS_OPS for p in FCS_OF_OP[op])
        return iv.intersect(ops_fcs, self.fcs) if self.fcs is not None else ops_fcs

    def touched_tables(self) -> set[str]:
        return {FUNCTION_CODES[fc][1] for lo, hi in self.eff_fcs() for fc in range(lo, hi)
                if fc in FUNCTION_CODES and FUNCTION_CODES[fc][1]}


def covers(a: CompiledRule, b: CompiledRule) -> bool:
    """Every request `b` matches, `a` matches too (over the hosts the model knows)."""
    if b.src & ~a.src or b.dst & ~a.dst or not b.ops <= a.ops:
        return False
    if a.ports is not None and (b.ports is None or not iv.subset(b.ports, a.ports)):
        return False
    if a.fcs is not None and (not b.ops <= MODBUS_OPS or not iv.subset(b.eff_fcs(), a.fcs)):
        return False
    if a.tables is not None:
        # b must only match requests that touch addresses, and each of its address sets must fit a's
        if b.tables is None and (not b.ops <= MODBUS_OPS or any(
                fc not in FUNCTION_CODES or FUNCTION_CODES[fc][1] is None for lo, hi in b.eff_fcs()
                for fc in range(lo, hi))):
            return False
        for table in (b.tables if b.tables is not None else b.touched_tables()):
            inner = b.tables[table] if b.tables is not None else FULL
            outer = a.tables.get(table, ())
            if a.allow and not b.allow:
                if outer != FULL:  # a deny matches requests that run past any allow range
                    return False
            elif not iv.subset(inner, outer):
                return False
    if a.nodes is not None:
        if not b.ops <= OPCUA_OPS:
            return False
        inner_nodes = b.nodes if b.nodes is not None else ("",)
        if a.allow and not b.allow:
            if "" not in a.nodes:
                return False
        elif not all(any(n.startswith(p) for p in a.nodes) for n in inner_nodes):
            return False
    if a.security is not None:
        if not b.ops <= OPCUA_OPS or not (b.security or frozenset(SECURITY_MODES)) <= a.security:
            return False
    return True


def compile_rule(rule: Rule, index: int, conduit: str, file: str, doc: YamlDoc, path: tuple,
                 topo: Topology) -> CompiledRule:
    """Resolve names and narrow the operation set; a rule that contradicts itself is a located error."""
    src = topo.resolve(rule.src, lambda i, msg: doc.error(path + ("src", i) if len(rule.src) > 1 else path + ("src",),
                                                          msg))
    dst = topo.resolve(rule.dst, lambda i, msg: doc.error(path + ("dst", i) if len(rule.dst) > 1 else path + ("dst",),
                                                          msg))
    ops = set(OPS)
    if rule.proto is not None:
        ops &= {o for o in OPS if PROTO_OF_OP[o] in PROTO_MATCHES[rule.proto]}
    if rule.op is not None:
        bad = [o for o in rule.op if o not in ops]
        if bad:
            raise doc.error(path + ("op",), f"{', '.join(bad)} is not carried by proto {rule.proto}")
        ops &= set(rule.op)
    fcs = tables = nodes = security = None
    if rule.modbus is not None:
        ops = _narrow(ops, MODBUS_OPS, doc, path + ("modbus",), "modbus matches")
        m = rule.modbus
        if m.fc is not None:
            fcs = m.fc
            fc_ops = {FUNCTION_CODES.get(fc, ("modbus.other", None))[0] for lo, hi in fcs for fc in range(lo, hi)}
            if not fc_ops & ops:
                raise doc.error(path + ("modbus", "fc"), f"function codes {iv.show(fcs)} are not "
                                                         f"{' or '.join(sorted(ops))}")
            ops &= fc_ops
        given = {t: getattr(m, t) for t in TABLES if getattr(m, t) is not None}
        if given:
            tables = given
            probe = CompiledRule(conduit, index, file, 0, True, 0, 0, frozenset(ops), None, fcs, None, None, None,
                                 rule)
            touched = probe.touched_tables()
            for t in given:
                if t not in touched:
                    raise doc.error(path + ("modbus", t), f"no {' or '.join(sorted(ops & MODBUS_OPS))} function "
                                                          f"code touches {t}; this range never matches")
    if rule.opcua is not None:
        ops = _narrow(ops, OPCUA_OPS, doc, path + ("opcua",), "opcua matches")
        u = rule.opcua
        if u.service is not None:
            wanted = {f"opcua.{s}" for s in u.service}
            if not wanted & ops:
                raise doc.error(path + ("opcua", "service"), f"service {', '.join(u.service)} contradicts op "
                                                             f"{', '.join(sorted(ops))}")
            ops &= wanted
        if u.node is not None:
            nodes = tuple(sorted({n.lower() for n in u.node}))
        if u.security is not None:
            security = frozenset(u.security)
    return CompiledRule(conduit, index, file, doc.line_of(path), rule.action == "allow", src, dst, frozenset(ops),
                        rule.port, fcs, tables, nodes, security, rule)


def _narrow(ops: set[str], allowed: frozenset[str], doc: YamlDoc, path: tuple, what: str) -> set[str]:
    out = ops & allowed
    if not out:
        raise doc.error(path, f"{what} need a {'Modbus' if allowed == MODBUS_OPS else 'OPC UA'} operation, "
                              f"but the rule's proto/op admit only {', '.join(sorted(ops))}")
    return out
