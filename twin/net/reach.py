"""The reachability matrix: for each operation class, which host can do it to which host.

A cell is `allowed` when every request of the class gets through (every function code, address, node
and security mode), `denied` when none does, `partial` otherwise (say, the HMI may write only two coils
of the line PLC). Hosts in one zone share no firewall: `same-zone`, always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .atoms import ServiceClass
from .flows import class_outcomes
from .loader import Network

MATRIX_OPS = ("modbus.read", "modbus.write", "opcua.read", "opcua.browse", "opcua.write", "opcua.call",
              "program_download")


@dataclass
class Cell:
    status: str                 # allowed | denied | partial | same-zone | no-route
    allowed: int = 0            # atoms allowed, of
    total: int = 0
    deciders: list[str] = field(default_factory=list)  # file:line of the rules that decided


@dataclass
class Reachability:
    hosts: list[str]
    ops: tuple[str, ...]
    cells: dict[tuple[str, str, str], Cell]

    def cell(self, src: str, dst: str, op: str) -> Cell:
        return self.cells[(src, dst, op)]


def reachability(network: Network, ops: tuple[str, ...] = MATRIX_OPS) -> Reachability:
    topo = network.topology
    names = [h.name for h in topo.hosts]
    cells: dict[tuple[str, str, str], Cell] = {}
    cache: dict = {}
    for s in topo.hosts:
        for d in topo.hosts:
            if s is d:
                continue
            path = topo.path(s.zone, d.zone)
            for op in ops:
                if path == ():
                    cells[(s.name, d.name, op)] = Cell("same-zone")
                    continue
                if path is None:
                    cells[(s.name, d.name, op)] = Cell("no-route")
                    continue
                cell = Cell("denied")
                for _flow, dec, _atom in class_outcomes(network, s.name, d.name, ServiceClass(op), cache):
                    cell.total += 1
                    cell.allowed += dec.allowed
                    if dec.where and dec.where not in cell.deciders:
                        cell.deciders.append(dec.where)
                cell.status = "allowed" if cell.allowed == cell.total else ("denied" if not cell.allowed
                                                                            else "partial")
                cells[(s.name, d.name, op)] = cell
    return Reachability(names, ops, cells)
