"""Split a flow class into atoms: pieces every rule treats alike, each with one concrete representative.

Static analysis never reasons about rules symbolically; it evaluates one representative request per atom
with the very matcher the twin enforces, so analysis and enforcement cannot drift apart. Atoms are exact
because they are cut at every edge a rule draws: each port, function code, address-range boundary, NodeId
prefix and security mode any relevant rule names. Address atoms stand for single-address requests: by the
range semantics (rules.py) a multi-address request is allowed only if each of its addresses is.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Iterable

from . import intervals as iv
from .ops import DEFAULT_PORT, FUNCTION_CODES, OP_FCS, PROTO_OF_OP, SECURITY_MODES, Service
from .rules import FCS_OF_OP, FULL, CompiledRule

ALL_PORTS = ((1, 65536),)


@dataclass(frozen=True)
class ServiceClass:
    """The service part of a flow class; None fields are unconstrained."""

    op: str
    port: iv.Intervals | None = None
    fcs: iv.Intervals | None = None
    tables: tuple[tuple[str, iv.Intervals], ...] | None = None
    node: str | None = None  # lower-cased prefix
    security: frozenset[str] | None = None

    def table(self, name: str) -> iv.Intervals | None:
        """Addresses of `name` this class admits (None: the whole table)."""
        if self.tables is None:
            return FULL
        return dict(self.tables).get(name)


@dataclass(frozen=True)
class Atom:
    service: Service                   # the representative
    ports: tuple[int, int]             # half-open span of ports it stands for
    table: str | None = None
    span: tuple[int, int] | None = None  # addresses it stands for
    node: str | None = None            # NodeId prefix it stands for ...
    node_except: tuple[str, ...] = ()  # ... minus these longer prefixes
    security: tuple[str, ...] = ()     # modes it stands for


def atoms(cls: ServiceClass, rules: Iterable[CompiledRule], extra: Iterable[ServiceClass] = ()) -> list[Atom]:
    op = cls.op
    proto = PROTO_OF_OP[op]
    rel = [r for r in rules if op in r.ops]
    cuts = [c for c in extra if c.op == op]
    port_domain = cls.port if cls.port is not None else (
        ((DEFAULT_PORT[proto], DEFAULT_PORT[proto] + 1),) if proto in DEFAULT_PORT else ALL_PORTS)
    port_edges = [p for r in rel if r.ports for p in iv.edges(r.ports)]
    port_edges += [p for c in cuts if c.port for p in iv.edges(c.port)]
    port_pieces = iv.cut(port_domain, port_edges)
    if op.startswith("modbus."):
        parts = _modbus(cls, rel, cuts)
    elif op.startswith("opcua."):
        parts = _opcua(cls, rel, cuts)
    else:
        parts = [({}, {})]
    out = []
    for (plo, phi), (fields, desc) in product(port_pieces, parts):
        out.append(Atom(Service(proto, plo, op, **fields), (plo, phi), **desc))
    return out


def _modbus(cls: ServiceClass, rel: list[CompiledRule], cuts: list[ServiceClass]) -> list[tuple[dict, dict]]:
    op = cls.op
    if cls.fcs is not None:
        fcs = [fc for lo, hi in iv.intersect(cls.fcs, FCS_OF_OP[op]) for fc in range(lo, hi)]
    elif op in OP_FCS:
        fcs = list(OP_FCS[op])
    else:
        fcs = [fc for lo, hi in FCS_OF_OP[op] for fc in range(lo, hi)]
    out = []
    for fc in fcs:
        table = FUNCTION_CODES.get(fc, (op, None))[1]
        if table is None:
            out.append(({"fc": fc}, {}))
            continue
        domain = cls.table(table)
        if not domain:
            continue  # the class names other tables only
        edges = [p for r in rel if r.tables and table in r.tables for p in iv.edges(r.tables[table])]
        edges += [p for c in cuts if c.table(table) not in (None, FULL) for p in iv.edges(c.table(table))]
        for lo, hi in iv.cut(domain, edges):
            one = (table, lo, lo + 1)
            ranges = (one, one) if fc == 23 else (one,)  # FC 23: read and write the same register
            out.append(({"fc": fc, "ranges": ranges}, {"table": table, "span": (lo, hi)}))
    return out


def _opcua(cls: ServiceClass, rel: list[CompiledRule], cuts: list[ServiceClass]) -> list[tuple[dict, dict]]:
    root = cls.node or ""
    prefixes = {p for r in rel if r.nodes for p in r.nodes} | {c.node for c in cuts if c.node}
    longer = sorted(p for p in prefixes if p.startswith(root) and p != root)
    node_atoms = []
    for q in [root] + longer:
        ext = [p for p in longer if p.startswith(q) and p != q]
        # only the nearest extensions: a prefix of a prefix is already excluded with it
        nearest = tuple(p for p in ext if not any(p.startswith(o) and p != o for o in ext))
        nexts = {p[len(q)] for p in nearest}
        suffix = next(ch for ch in "~#$%&+=@^_!" if ch not in nexts)
        node_atoms.append((q + suffix, q, nearest))
    modes = tuple(m for m in SECURITY_MODES if cls.security is None or m in cls.security)
    constrained = any(r.security is not None for r in rel) or any(c.security is not None for c in cuts)
    groups = [(m,) for m in modes] if constrained else [modes]
    out = []
    for (rep, q, nearest), group in product(node_atoms, groups):
        out.append(({"nodes": (rep,), "security": group[0]},
                    {"node": q, "node_except": nearest, "security": group}))
    return out


def class_of(spec, op: str) -> ServiceClass:
    """The ServiceClass of one operation of a FlowSpec."""
    tables = spec.tables()
    return ServiceClass(op, spec.port, spec.fc, tuple(sorted(tables.items())) if tables else None,
                        spec.node.lower() if spec.node is not None else None,
                        frozenset(spec.security) if spec.security is not None else None)


def contains(cls: ServiceClass, atom: Atom) -> bool:
    """The atom lies within the class (exact when the class's edges were among the atom cuts)."""
    s = atom.service
    if s.op != cls.op:
        return False
    if cls.port is not None and not iv.contains(cls.port, s.port, s.port + 1):
        return False
    if cls.fcs is not None and (s.fc is None or not iv.contains(cls.fcs, s.fc, s.fc + 1)):
        return False
    if cls.tables is not None:
        if atom.table is None:
            return False
        allowed = cls.table(atom.table)
        if not allowed or not iv.contains(allowed, *atom.span):
            return False
    if cls.node is not None and not (atom.node or "").startswith(cls.node):
        return False
    if cls.security is not None and not set(atom.security) <= cls.security:
        return False
    return True
