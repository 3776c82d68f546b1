"""Zones, hosts and conduits: who is where, and which conduits a flow crosses.

Hosts get an index; a set of hosts is an int bitmask, so rules resolve their
sources and destinations once and analysis works on whole zones at a time.

Path semantics: zones form a graph whose edges are conduits. Traffic between
two zones crosses the conduits of the shortest path (fewest conduits); ties
go to the conduits declared first, and lint reports the tie, because a real
router might pick the other path. Every conduit on the path must allow the
flow. Traffic inside a zone crosses no firewall and is always allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from ..model.errors import ScenarioError
from ..model.yaml_source import YamlDoc
from .schema import NetworkFile

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
RESERVED = {"any"}


@dataclass(frozen=True)
class HostInfo:
    name: str
    index: int
    zone: str
    role: str
    address: ipaddress.IPv4Address
    enabled: bool

    @property
    def bit(self) -> int:
        return 1 << self.index


@dataclass(frozen=True)
class ZoneInfo:
    name: str
    level: float
    sl_t: int
    subnet: ipaddress.IPv4Network
    mask: int  # its hosts


@dataclass(frozen=True)
class ConduitInfo:
    name: str
    index: int
    zones: tuple[str, str]
    firewall: str
    rules_ref: str  # the file named in network.yaml, as written


@dataclass
class Topology:
    zones: dict[str, ZoneInfo]
    hosts: list[HostInfo]
    conduits: dict[str, ConduitInfo]
    by_name: dict[str, HostInfo] = field(init=False)
    all_mask: int = field(init=False)
    _paths: dict[tuple[str, str], tuple[str, ...] | None] = field(init=False, default_factory=dict)
    _ties: set[tuple[str, str]] = field(init=False, default_factory=set)
    _cross: dict[str, dict[str, int]] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.by_name = {h.name: h for h in self.hosts}
        self.all_mask = (1 << len(self.hosts)) - 1
        self._route_all()

    # --- paths -----------------------------------------------------------------------------------------------
    def path(self, za: str, zb: str) -> tuple[str, ...] | None:
        """Conduits crossed from zone `za` to zone `zb` (empty inside a zone; None when not connected)."""
        return self._paths.get((za, zb))

    def host_path(self, src: str, dst: str) -> tuple[str, ...] | None:
        return self.path(self.by_name[src].zone, self.by_name[dst].zone)

    @property
    def ambiguous_routes(self) -> set[tuple[str, str]]:
        return self._ties

    def _route_all(self) -> None:
        adj: dict[str, list[tuple[str, str]]] = {z: [] for z in self.zones}
        for c in self.conduits.values():  # declaration order = tie-break order
            a, b = c.zones
            adj[a].append((c.name, b))
            adj[b].append((c.name, a))
        for start in self.zones:
            dist = {start: 0}
            ways = {start: 1}
            prev: dict[str, tuple[str, str]] = {}
            queue = deque([start])
            while queue:
                z = queue.popleft()
                for cname, nxt in adj[z]:
                    if nxt not in dist:
                        dist[nxt] = dist[z] + 1
                        ways[nxt] = ways[z]
                        prev[nxt] = (cname, z)
                        queue.append(nxt)
                    elif dist[nxt] == dist[z] + 1:
                        ways[nxt] += ways[z]
            for z in self.zones:
                if z not in dist:
                    self._paths[(start, z)] = None
                    continue
                hops = []
                cur = z
                while cur != start:
                    cname, cur = prev[cur]
                    hops.append(cname)
                self._paths[(start, z)] = tuple(reversed(hops))
                if ways[z] > 1:
                    self._ties.add((start, z))

    def crossing(self, conduit: str) -> dict[str, int]:
        """For each source zone: the hosts whose traffic from that zone crosses `conduit`."""
        if self._cross is None:
            cross: dict[str, dict[str, int]] = {c: {} for c in self.conduits}
            for (za, zb), p in self._paths.items():
                for c in p or ():
                    cross[c][za] = cross[c].get(za, 0) | self.zones[zb].mask
            self._cross = cross
        return self._cross[conduit]

    # --- host sets -------------------------------------------------------------------------------------------
    def names(self, mask: int) -> list[str]:
        return [h.name for h in self.hosts if mask >> h.index & 1]

    def resolve(self, specs: list[str], error: Callable[[int, str], ScenarioError]) -> int:
        """Host, zone, role:ROLE, host:NAME, zone:NAME, CIDR or any -> host bitmask.
        `error(i, message)` builds the located error for the i-th spec."""
        mask = 0
        for i, spec in enumerate(specs):
            mask |= self._resolve_one(spec, lambda msg, i=i: error(i, msg))
        return mask

    def _resolve_one(self, spec: str, error: Callable[[str], ScenarioError]) -> int:
        s = spec.strip()
        if s == "any":
            return self.all_mask
        kind, _, name = s.partition(":") if ":" in s else ("", "", s)
        if kind == "role":
            return sum(h.bit for h in self.hosts if h.role == name) or _raise(
                error(f"no host has role {name!r}" + _roles_hint(name, {h.role for h in self.hosts})))
        if kind == "host":
            if name not in self.by_name:
                raise error(f"unknown host {name!r}{did_you_mean(name, self.by_name)}")
            return self.by_name[name].bit
        if kind == "zone":
            if name not in self.zones:
                raise error(f"unknown zone {name!r}{did_you_mean(name, self.zones)}")
            return self.zones[name].mask
        if kind:
            raise error(f"unknown qualifier {kind!r}; write host:NAME, zone:NAME or role:ROLE")
        if "/" in s or s[:1].isdigit():
            try:
                net = ipaddress.IPv4Network(s)
            except ValueError as exc:
                raise error(f"not a host, zone or IPv4 network: {exc}") from None
            return sum(h.bit for h in self.hosts if h.address in net)
        is_host, is_zone = s in self.by_name, s in self.zones
        if is_host and is_zone:
            raise error(f"{s!r} is both a host and a zone; write host:{s} or zone:{s}")
        if is_host:
            return self.by_name[s].bit
        if is_zone:
            return self.zones[s].mask
        raise error(f"unknown host or zone {s!r}{did_you_mean(s, list(self.by_name) + list(self.zones))}")


def _raise(exc: Exception):
    raise exc


def did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _roles_hint(name: str, present: set[str]) -> str:
    return did_you_mean(name, present) or (f"; roles present: {', '.join(sorted(present))}" if present else "")


def build(spec: NetworkFile, doc: YamlDoc) -> Topology:
    """Check names, addresses and references of a validated network file; located errors on the first problem."""
    for section in ("zones", "hosts", "firewalls", "conduits"):
        for name in getattr(spec, section):
            if name in RESERVED or not _NAME.match(name):
                raise doc.error((section, name), f"{name!r} is not a usable name: start with a letter, use letters, "
                                                 f"digits, '_', '-', '.'; 'any' is reserved")
    nets: dict[str, ipaddress.IPv4Network] = {}
    for zname, z in spec.zones.items():
        net = ipaddress.IPv4Network(z.subnet)
        for other, onet in nets.items():
            if net.overlaps(onet):
                raise doc.error(("zones", zname, "subnet"), f"{net} overlaps zone {other}'s subnet {onet}")
        nets[zname] = net
    hosts: list[HostInfo] = []
    seen: dict[ipaddress.IPv4Address, str] = {}
    for i, (hname, h) in enumerate(spec.hosts.items()):
        if h.zone not in spec.zones:
            raise doc.error(("hosts", hname, "zone"), f"unknown zone {h.zone!r}"
                                                      f"{did_you_mean(h.zone, spec.zones)}")
        addr = ipaddress.IPv4Address(h.address)
        if addr not in nets[h.zone]:
            raise doc.error(("hosts", hname, "address"), f"{addr} is outside zone {h.zone}'s subnet {nets[h.zone]}")
        if addr in seen:
            raise doc.error(("hosts", hname, "address"), f"{addr} is also the address of host {seen[addr]}")
        seen[addr] = hname
        hosts.append(HostInfo(hname, i, h.zone, h.role, addr, h.enabled))
    zones = {zn: ZoneInfo(zn, z.level, z.sl_t, nets[zn], sum(h.bit for h in hosts if h.zone == zn))
             for zn, z in spec.zones.items()}
    conduits: dict[str, ConduitInfo] = {}
    for i, (cname, c) in enumerate(spec.conduits.items()):
        for j, z in enumerate(c.zones):
            if z not in spec.zones:
                raise doc.error(("conduits", cname, "zones", j), f"unknown zone {z!r}{did_you_mean(z, spec.zones)}")
        if c.zones[0] == c.zones[1]:
            raise doc.error(("conduits", cname, "zones"), "a conduit joins two different zones")
        if c.firewall not in spec.firewalls:
            raise doc.error(("conduits", cname, "firewall"),
                            f"unknown firewall {c.firewall!r}{did_you_mean(c.firewall, spec.firewalls)}"
                            + ("" if spec.firewalls else "; declare it under firewalls:"))
        conduits[cname] = ConduitInfo(cname, i, (c.zones[0], c.zones[1]), c.firewall, c.rules)
    return Topology(zones, hosts, conduits)
