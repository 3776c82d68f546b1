"""Checks of a firewall ruleset change: the static diff against its intent, and every required
and forbidden flow both statically and as the twin's own traffic saw it. A disagreement between
the static answer and the observed one is itself a finding (FAIL)."""

from __future__ import annotations

from typing import Any

from .checks import FAIL, PASS, Check


def network_checks(loaded, pairs: list[dict[str, Any]]) -> list[Check]:
    from ..net import check_flows, differential

    before, after = loaded.network, loaded.change_network
    checks: list[Check] = []
    report = differential(before, after)
    changes = [{"flow": f"{c.src} -> {c.dst} {c.op}", "change": c.change, "rule": c.responsible.where
                if hasattr(c.responsible, "where") else str(c.responsible), "in_intent": c.in_intent}
               for c in report.changes]
    for step in report.steps:
        status = FAIL if step.status == "fail" else PASS
        checks.append(Check(f"rules diff step {step.number}: {step.title}", "network", status,
                            f"{step.status}: {step.detail}", evidence={"changes": changes[:40]}))
    observed = _observed(pairs)
    topo = after.topology
    bits = {h.name: h.bit for h in topo.hosts}
    for res in check_flows(after):
        flow = res.flow
        label = f"{flow.kind} flow {flow.label}"
        where = _decider(res)
        static_ok = res.ok
        seen = [o for o in observed
                if bits.get(o["src"], 0) & flow.src and bits.get(o["dst"], 0) & flow.dst and _op_in(o["op"], flow)]
        seen_allowed = sum(o["count"] for o in seen if o["outcome"] == "allowed")
        seen_denied = sum(o["count"] for o in seen if o["outcome"] == "denied")
        ev = {"flow": flow.label, "declared_at": flow.where, "static": res.outcome, "rule": where,
              "observed_allowed": seen_allowed, "observed_denied": seen_denied}
        checks.append(Check(f"{label} (static)", "network", PASS if static_ok else FAIL,
                            f"expected {flow.expect}, the proposed rules give {res.outcome}"
                            + (f" ({where})" if where else ""), evidence=ev))
        if not seen:
            checks.append(Check(f"{label} (observed)", "network", PASS,
                                "not exercised by the twin's traffic in this run", evidence=ev))
            continue
        observed_ok = seen_denied == 0 if flow.expect == "allowed" else seen_allowed == 0
        text = f"the twin's traffic: {seen_allowed} allowed, {seen_denied} denied"
        if observed_ok != static_ok:
            checks.append(Check(f"{label} (observed)", "network", FAIL,
                                text + "; this disagrees with the static analysis", evidence=ev))
        else:
            checks.append(Check(f"{label} (observed)", "network", PASS if observed_ok else FAIL, text, evidence=ev))
    return checks


def _observed(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in pairs:
        out += p["candidate"].get("observed_under_change", [])
    return out


def _op_in(op: str, flow) -> bool:
    ops = flow.spec.op if isinstance(flow.spec.op, (list, tuple)) else [flow.spec.op]
    ops = [str(o) for o in ops]
    return "any" in ops or op in ops or any(op.startswith(o + ".") for o in ops)


def _decider(res) -> str:
    if res.counterexample is not None:
        _flow, decision, _atom = res.counterexample
        return f"rule at {decision.where}" if decision.where else decision.reason
    return ", ".join(res.deciders[:2])
