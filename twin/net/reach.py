"""The reachability matrix: for each operation class, which host can do it to which host.

A cell is `allowed` when every request of the class gets through (every function code, address, node
and security mode), `denied` when none does, `partial` otherwise (say, the HMI may write only two coils
of the line PLC). Hosts in one zone share no firewall: `same-zone`, always allowed.

Computed per conduit, not per host pair: for each conduit and source, the destinations it allows for
*every* atom of the operation (ALL) and for *some* atom (ANY), as bitmasks over sources grouped into
classes no rule tells apart. Along a path, "every atom passes every conduit" is the AND of the ALLs, and
a destination outside the AND of the ANYs is denied. Only what is left (some conduit allows a part, and
the path has several conduits whose parts may not overlap) is settled atom by atom.
"""

from __future__ import annotations

from dataclasses import dataclass

from .atoms import ServiceClass, atoms
from .bitsets import allowed, bits, classes
from .flows import class_outcomes
from .loader import Network

MATRIX_OPS = ("modbus.read", "modbus.write", "opcua.read", "opcua.browse", "opcua.write", "opcua.call",
              "program_download")


@dataclass(frozen=True)
class Cell:
    status: str  # allowed | denied | partial | same-zone | no-route


@dataclass
class Reachability:
    hosts: list[str]
    ops: tuple[str, ...]
    cells: dict[tuple[str, str, str], Cell]

    def cell(self, src: str, dst: str, op: str) -> Cell:
        return self.cells[(src, dst, op)]


_SAME, _NO_ROUTE = Cell("same-zone"), Cell("no-route")
_STATUS = {s: Cell(s) for s in ("allowed", "denied", "partial")}


def reachability(network: Network, ops: tuple[str, ...] = MATRIX_OPS) -> Reachability:
    topo = network.topology
    hosts = topo.hosts
    cells: dict[tuple[str, str, str], Cell] = {}
    cache: dict = {}
    for op in ops:
        summary = {c: _conduit_summary(network, c, op) for c in topo.conduits}
        for s in hosts:
            for zd, zone in topo.zones.items():
                path = topo.path(s.zone, zd)
                members = zone.mask & ~s.bit
                if path is None or path == ():
                    for di in bits(members):
                        cells[(s.name, hosts[di].name, op)] = _NO_ROUTE if path is None else _SAME
                    continue
                every, some = members, members
                for c in path:
                    a, y = summary[c].get(s.index, (0, 0))
                    every &= a
                    some &= y
                for di in bits(members):
                    d = hosts[di].name
                    if every >> di & 1:
                        status = "allowed"
                    elif not some >> di & 1:
                        status = "denied"
                    elif len(path) == 1:
                        status = "partial"
                    else:
                        status = _exact(network, s.name, d, op, cache)
                    cells[(s.name, d, op)] = _STATUS[status]
    return Reachability([h.name for h in hosts], ops, cells)


def _conduit_summary(network: Network, conduit: str, op: str) -> dict[int, tuple[int, int]]:
    """source host index -> (destinations allowed for every atom, destinations allowed for some atom)."""
    topo = network.topology
    cp = network.policy.conduits[conduit]
    rel = cp.by_op.get(op, ())
    cross = topo.crossing(conduit)
    groups = list({tuple(r for r in rel if r.matches_service(a.service)): None
                   for a in atoms(ServiceClass(op), rel)})
    out: dict[int, tuple[int, int]] = {}
    for zone, dsts in cross.items():
        for cls in classes(topo.zones[zone].mask, [r.src for r in rel]):
            rep = cls & -cls
            every, some = dsts, 0
            for g in groups:
                v = allowed(g, rep, dsts, cp.default_allow)
                every &= v
                some |= v
            for si in bits(cls):
                out[si] = (every, some)
    return out


def _exact(network: Network, src: str, dst: str, op: str, cache: dict) -> str:
    verdicts = {dec.allowed for _f, dec, _a in class_outcomes(network, src, dst, ServiceClass(op), cache)}
    return "partial" if len(verdicts) == 2 else ("allowed" if True in verdicts else "denied")
