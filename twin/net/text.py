"""Output of `twin net check|diff`: tables for people, plain dicts for --json. No analysis here."""

from __future__ import annotations

from collections import defaultdict

from . import intervals as iv
from .atoms import Atom
from .ops import DEFAULT_PORT, OP_FCS, PROTO_OF_OP, SECURITY_MODES
from .rules import FULL

SYMBOL = {"allowed": "Y", "partial": "~", "denied": ".", "same-zone": "=", "no-route": "-"}


# --- describing what a set of atoms covers ---------------------------------------------------------------------
def describe(op: str, atoms: list[Atom]) -> str:
    """'FC 5,15 coils 0-7,10-65535; FC 6,16,23 holding registers 0-65535', 'security None', 'port 3389'."""
    parts = []
    ports = iv.merge(a.ports for a in atoms)
    proto = PROTO_OF_OP[op]
    if proto not in DEFAULT_PORT or ports != ((DEFAULT_PORT[proto], DEFAULT_PORT[proto] + 1),):
        parts.append(f"port {iv.show(ports)}")
    if op.startswith("modbus."):
        parts.append(_modbus(op, atoms))
    elif op.startswith("opcua."):
        parts.append(_opcua(atoms))
    return "; ".join(p for p in parts if p) or "all"


def _modbus(op: str, atoms: list[Atom]) -> str:
    by_fc: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for a in atoms:
        by_fc[a.service.fc].setdefault(a.table or "", []).extend([a.span] if a.span else [])
    shapes: dict[tuple, list[int]] = defaultdict(list)
    for fc in sorted(by_fc):
        shape = tuple(sorted((t, iv.merge(spans)) for t, spans in by_fc[fc].items()))
        shapes[shape].append(fc)
    everything = set(by_fc) == set(OP_FCS.get(op, ())) and all(
        ivs in (FULL, ()) for shape in shapes for _t, ivs in shape)
    if everything:
        return ""
    out = []
    for shape, fcs in shapes.items():
        where = " ".join(f"{t.replace('_', ' ')} {iv.show(ivs)}" for t, ivs in shape if t)
        out.append(f"FC {','.join(map(str, fcs))}" + (f" {where}" if where else ""))
    return "; ".join(out)


def _opcua(atoms: list[Atom]) -> str:
    nodes = sorted({(a.node or "", a.node_except) for a in atoms})
    modes = {m for a in atoms for m in a.security}
    out = []
    if nodes != [("", ())]:
        out.append("nodes " + ", ".join(f"{n or ''}*" + (f" except {', '.join(x + '*' for x in ex)}" if ex else "")
                                        for n, ex in nodes))
    if modes != set(SECURITY_MODES):
        out.append("security " + ",".join(m for m in SECURITY_MODES if m in modes))
    return "; ".join(out)


def _service_dict(s) -> dict:
    d = {"proto": s.proto, "port": s.port, "op": s.op}
    if s.fc is not None:
        d["fc"] = s.fc
    if s.ranges:
        d["ranges"] = [{"table": t, "start": lo, "count": hi - lo} for t, lo, hi in s.ranges]
    if s.nodes:
        d["nodes"] = list(s.nodes)
    if s.security is not None:
        d["security"] = s.security
    return d


def _decision_dict(d) -> dict:
    return {"allowed": d.allowed, "conduit": d.conduit, "rule_index": d.rule_index, "where": d.where,
            "reason": d.reason,
            "hops": [{"conduit": h.conduit, "firewall": h.firewall, "allowed": h.allowed,
                      "rule_index": h.rule.index if h.rule else None, "where": h.where} for h in d.hops]}


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


# --- net check -------------------------------------------------------------------------------------------------
def check_text(network, reach, results, findings) -> str:
    topo = network.topology
    out = [f"network: {network.file}"]
    if network.override:
        out.append(f"rules:   {network.override} replaces the rules of "
                   f"{', '.join(c for c, f in network.rules_files.items() if f == network.override)}")
    out.append("paths:   traffic crosses every conduit on the shortest zone path; each must allow it")
    out.append("")
    out.append("Reachability by operation: Y allowed, ~ partly (some function codes, addresses, nodes or "
               "security modes), . denied,")
    out.append("  = same zone (no firewall between them: always allowed), - no conduit path")
    legend = [f"{i + 1} {h.name}{'' if h.enabled else ' (disabled)'}" for i, h in enumerate(topo.hosts)]
    out.append("  hosts: " + ", ".join(legend))
    n = len(topo.hosts)
    name_w = max(len(h.name) for h in topo.hosts) + 4
    for op in reach.ops:
        out.append("")
        out.append(f"  {op}")
        out.append(f"  {'':<{name_w}} " + " ".join(f"{j + 1:>2}" for j in range(n)))
        for i, s in enumerate(topo.hosts):
            cells = []
            for d in topo.hosts:
                cells.append(" " if s is d else SYMBOL[reach.cell(s.name, d.name, op).status])
            out.append(f"  {i + 1:>2} {s.name:<{name_w - 3}} " + " ".join(f"{c:>2}" for c in cells))
    out.append("")
    out.append("Declared flows:")
    rows = [["", "kind", "flow", "outcome", "why"]]
    notes: list[tuple[int, list[str]]] = []
    for r in results:
        why = ", ".join(r.deciders[:2]) + (f" (+{len(r.deciders) - 2} more)" if len(r.deciders) > 2 else "")
        if r.counterexample is not None:
            flow, dec, atom = r.counterexample
            why = f"e.g. {flow.src} -> {flow.dst} {describe(flow.op, [atom])}: {dec.reason}"
        rows.append(["PASS" if r.ok else "FAIL", r.flow.kind, r.flow.label, r.outcome, why])
        if r.notes:
            notes.append((len(rows) - 1, r.notes))
    lines = _table(rows)
    for idx, ns in reversed(notes):
        lines[idx + 1:idx + 1] = [f"        {n}" for n in ns]
    out.extend(lines)
    if findings:
        out.append("")
        out.append("Findings (warnings):")
        out.extend(_table([[f.kind, f.where, f.message] for f in findings]))
    ok = sum(r.ok for r in results)
    out.append("")
    out.append(f"{ok} of {len(results)} declared flows hold" + ("" if ok == len(results) else
                                                                f"; {len(results) - ok} fail"))
    return "\n".join(out)


def check_json(network, reach, results, findings) -> dict:
    return {
        "network": network.file,
        "rules_override": network.override,
        "rules_files": network.rules_files,
        "hosts": [{"name": h.name, "zone": h.zone, "role": h.role, "address": str(h.address),
                   "enabled": h.enabled} for h in network.topology.hosts],
        "matrix": {op: {s: {d: reach.cell(s, d, op).status for d in reach.hosts if d != s} for s in reach.hosts}
                   for op in reach.ops},
        "flows": [{
            "kind": r.flow.kind, "flow": r.flow.label, "declared_at": r.flow.where, "expect": r.flow.expect,
            "ok": r.ok, "outcome": r.outcome, "allowed": r.allowed, "denied": r.denied, "deciders": r.deciders,
            "counterexample": None if r.counterexample is None else {
                "src": r.counterexample[0].src, "dst": r.counterexample[0].dst,
                "service": _service_dict(r.counterexample[0].service),
                "covers": describe(r.counterexample[0].op, [r.counterexample[2]]),
                "decision": _decision_dict(r.counterexample[1])},
            "notes": r.notes} for r in results],
        "findings": [{"kind": f.kind, "where": f.where, "message": f.message, "conduit": f.conduit,
                      "rule_index": f.rule_index} for f in findings],
        "ok": all(r.ok for r in results),
    }


# --- net diff --------------------------------------------------------------------------------------------------
def _hop(h) -> str:
    if h is None:
        return "-"
    return h.label


def diff_text(report) -> str:
    a, b = report.before, report.after
    out = [f"network: {a.file}",
           f"before:  {', '.join(sorted(set(a.rules_files.values())))}",
           f"after:   {b.override or ', '.join(sorted(set(b.rules_files.values())))}",
           f"changed conduits: {', '.join(report.changed_conduits) or 'none'}", ""]
    # one row per (change, source, operation, part, rule): the destinations that share them are listed together
    groups: dict[tuple, list] = {}
    for ch in report.changes:
        key = (ch.change, ch.src, ch.op, describe(ch.op, ch.atoms), _hop(ch.responsible), _hop(ch.was),
               ch.in_intent)
        groups.setdefault(key, []).append(ch.dst)
    if groups:
        out.append(f"{len(report.changes)} flows changed outcome:")
        rows = [["change", "from", "to", "op", "part", "now decided by", "was decided by", "intent"]]
        for (change, src, op, part, now, was, inside), dsts in groups.items():
            rows.append([change, src, ", ".join(dsts), op, part, now, was, "yes" if inside else "NO"])
        out.extend(_table(rows))
    else:
        out.append("no flow changed outcome")
    out.append("")
    out.append("Differential check (Batfish's recipe):")
    for s in report.steps:
        out.append(f"  {s.number}. {s.title:<48} {s.status.upper():<7} {s.detail}")
        for item in s.items[:10] if s.number != 3 else []:
            line = f"       {item.flow.label}: {item.outcome}"
            if item.counterexample is not None:
                flow, dec, atom = item.counterexample
                line += f"; e.g. {flow.src} -> {flow.dst} {describe(flow.op, [atom])}: {dec.reason}"
            out.append(line)
            out.extend(f"         {n}" for n in item.notes)
    if report.declared:
        out.append("")
        out.append("Declared flows whose result changed:")
        for x, y in report.declared:
            out.append(f"  {y.flow.kind:<9} {y.flow.label}: {'PASS' if x.ok else 'FAIL'} -> "
                       f"{'PASS' if y.ok else 'FAIL'} ({y.outcome})")
    return "\n".join(out)


def diff_json(report) -> dict:
    return {
        "network": report.before.file,
        "rules": report.after.override,
        "changed_conduits": report.changed_conduits,
        "changes": [{
            "src": ch.src, "dst": ch.dst, "op": ch.op, "change": ch.change, "part": describe(ch.op, ch.atoms),
            "in_intent": ch.in_intent, "example": _service_dict(ch.example.service),
            "responsible": {"conduit": ch.responsible.conduit, "allowed": ch.responsible.allowed,
                            "rule_index": ch.responsible.rule.index if ch.responsible.rule else None,
                            "where": ch.responsible.where},
            "before": _decision_dict(ch.before), "after": _decision_dict(ch.after)} for ch in report.changes],
        "steps": [{"step": s.number, "title": s.title, "status": s.status, "detail": s.detail} for s in report.steps],
        "declared_changed": [{"kind": y.flow.kind, "flow": y.flow.label, "before_ok": x.ok, "after_ok": y.ok}
                             for x, y in report.declared],
        "ok": report.ok,
    }
