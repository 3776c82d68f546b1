"""Static findings on a network: rules that never match, Purdue levels skipped, ambiguous routes.

Errors that make analysis meaningless (unknown names, overlapping addresses) are not findings: the loader
raises them as located errors. These are warnings: the network loads and can be analysed, but a person
should look.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rules import CompiledRule, covers
from .schema import DMZ_LEVEL


@dataclass(frozen=True)
class Finding:
    kind: str       # shadowed | never-matches | purdue-skip | ambiguous-route
    where: str      # file:line
    message: str
    conduit: str | None = None
    rule_index: int | None = None


def shadows(network) -> dict[tuple[str, int], list[CompiledRule]]:
    """(conduit, earlier rule index) -> the later rules it shadows (each later rule listed once, under the
    first rule that covers it). Pairwise: a rule covered only by several earlier rules together is not
    reported."""
    cached = network.memo.get("shadows")
    if cached is not None:
        return cached
    out: dict[tuple[str, int], list[CompiledRule]] = {}
    for cname, cp in network.policy.conduits.items():
        live = [r for r in cp.rules if r.src and r.dst]  # a rule naming no host is reported as never-matches
        for j, b in enumerate(live):
            for a in live[:j]:
                if covers(a, b):
                    out.setdefault((cname, a.index), []).append(b)
                    break
    network.memo["shadows"] = out
    return out


def lint(network) -> list[Finding]:
    topo = network.topology
    found: list[Finding] = []
    for cname, cp in network.policy.conduits.items():
        cross = topo.crossing(cname)
        for r in cp.rules:
            what = f"{cname} rule #{r.index + 1} ({r.action})"
            if not r.src or not r.dst:
                side = "src" if not r.src else "dst"
                found.append(Finding("never-matches", r.where, f"{what} can never match: its {side} names no "
                                                               f"host", cname, r.index))
                continue
            if not any(cross.get(z.name, 0) & r.dst for z in topo.zones.values() if z.mask & r.src):
                found.append(Finding("never-matches", r.where, f"{what} can never match: no traffic from its src "
                                                               f"to its dst crosses {cname}", cname, r.index))
        for (c2, ai), later in shadows(network).items():
            if c2 != cname:
                continue
            a = cp.rules[ai]
            for b in later:
                verb = "its deny never applies" if a.allow and not b.allow else (
                    "its allow never applies" if b.allow and not a.allow else "it is redundant")
                found.append(Finding("shadowed", b.where, f"{cname} rule #{b.index + 1} ({b.action}) is shadowed by "
                                                          f"rule #{a.index + 1} ({a.where}, {a.action}): {verb}",
                                     cname, b.index))
    for c in topo.conduits.values():
        za, zb = (topo.zones[z] for z in c.zones)
        if abs(za.level - zb.level) > 1 and DMZ_LEVEL not in (za.level, zb.level):
            found.append(Finding("purdue-skip", f"{network.file}:{network.conduit_lines.get(c.name, 1)}",
                                 f"conduit {c.name} joins {za.name} (level {za.level:g}) and {zb.name} "
                                 f"(level {zb.level:g}) without a DMZ", c.name))
    for za, zb in sorted(topo.ambiguous_routes):
        if za < zb:
            path = " -> ".join(topo.path(za, zb) or ())
            found.append(Finding("ambiguous-route", network.file,
                                 f"zones {za} and {zb} are joined by more than one shortest path; the model uses "
                                 f"{path} (the conduits declared first)"))
    return found

