"""One replication of a validation: the baseline run and the candidate run, paired.

Both runs use the same seed and replication, so they share every random
stream (common random numbers): the same bottles break at the same moments,
the same machines jam. Timeline of each run:

    0 .. window start      warm-up (and, for a mid-run change, the time before it)
    window start .. end    KPI window 1: the change in effect (candidate)
    end                    rollback to the pre-change snapshot (candidate), then verified
    end .. end + R         recovery allowance (rollback.verify recovers_within)
    end + R .. + observe   KPI window 2: the steady state after rollback

A safety invariant broken in the candidate stops it at once; rollback still
runs and is verified, and the line is watched for R + observe after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plcsim.runtime import Plc

from ..engine import virtual
from ..engine.loading import LoadedScenario
from ..line import kpis
from ..model.change import RecoversWithin
from . import injections


@dataclass(frozen=True)
class Plan:
    change_at: float
    window_start: float
    end: float
    recover: float
    observe: float

    @property
    def total(self) -> float:
        return self.end + self.recover + self.observe


def plan(loaded: LoadedScenario) -> Plan:
    sc = loaded.scenario
    at = sc.change.at if sc.change is not None else 0.0
    recover = next((v.recovers_within for v in sc.rollback.verify if isinstance(v, RecoversWithin)), 0.0)
    return Plan(at, max(sc.run.warmup, at), sc.run.duration, recover, sc.rollback.observe)


@dataclass
class PreChange:
    """What rollback must give back: the PLC as it was just before the change."""

    plc: str
    program: Any
    program_hash: str
    version: str
    retained: dict[str, Any]
    config: str
    mode: str
    setpoint: tuple[str, Any] | None


@dataclass
class PreRules:
    """The firewall as it was before a rules change."""

    policy: Any
    fingerprint: str


def rules_fingerprint(network) -> str:
    """A hash of every conduit's rule source as the policy in force was built from."""
    import hashlib

    h = hashlib.sha256()
    for conduit, rp in sorted(network.policy.conduits.items()):
        h.update(f"{conduit}\0{rp.key}\n".encode())
    return h.hexdigest()


def capture(plc: Plc, setpoint_tag: str | None) -> PreChange:
    sp = (setpoint_tag, plc.read(setpoint_tag)) if setpoint_tag else None
    return PreChange(plc.name, plc.program, plc.program_hash, plc.version, plc.retained(),
                     plc.config_fingerprint(), plc.mode, sp)


def apply_change(loaded: LoadedScenario, plc: Plc) -> None:
    ch = loaded.scenario.change
    if ch.plc_program is not None:
        version = ch.plc_program.version or loaded.change_program.hash[:12]
        if ch.at == 0:
            plc.download(loaded.change_program, version)  # from the start: a full download
        else:
            plc.load(loaded.change_program, version)      # online change, at the next scan boundary
    else:
        plc.write(ch.setpoint.tag, ch.setpoint.value)


def restore_baseline(plc: Plc, pre: PreChange) -> None:
    """Rollback step `restore_baseline`: program, retained memory, setpoint and mode as before."""
    plc.stop()
    plc.load(pre.program, pre.version)  # installs at once in STOP; same-name variables keep their values
    for path, value in pre.retained.items():
        plc.write(path, value, force=True)
    if pre.setpoint is not None:
        plc.write(pre.setpoint[0], pre.setpoint[1], force=True)
    if pre.mode == "RUN":
        plc.start()


def verify(plc: Plc, pre: PreChange) -> dict[str, Any]:
    items = {
        "program_hash": (pre.program_hash, plc.program_hash),
        "retained_memory": (pre.retained, plc.retained()),
        "configuration": (pre.config, plc.config_fingerprint()),
        "mode": (pre.mode, plc.mode),
    }
    if pre.setpoint is not None:
        items["setpoint"] = (pre.setpoint[1], plc.read(pre.setpoint[0]))
    out = {k: {"expected": e, "actual": a, "ok": e == a} for k, (e, a) in items.items()}
    return {"ok": all(v["ok"] for v in out.values()), "items": out}


def run_side(loaded: LoadedScenario, replication: int, candidate: bool, *, skip: bool = True,
             detail: bool = False) -> dict[str, Any]:
    sc = loaded.scenario
    p = plan(loaded)
    twin = virtual.build(loaded, replication, detail=detail, skip_idle_scans=skip)
    line = twin.line
    line.mark_at("w1_start", p.window_start)
    line.mark_at("w1_end", p.end)
    line.mark_at("w2_start", p.end + p.recover)
    injections.schedule(twin, sc.injections)
    ch = sc.change
    state: dict[str, Any] = {}
    if candidate and ch is not None and ch.rules is not None:
        line.stop_on_violation = True
        gw = twin.gateway

        def apply_rules():
            state["pre_rules"] = PreRules(gw.policy, rules_fingerprint(loaded.network))
            gw.network = loaded.change_network
            gw.set_policy(loaded.change_network.policy)
            gw.counts.clear()  # observed traffic from here on is the proposed ruleset's
            line.event("change_applied", change="rules", conduit=ch.rules.conduit)

        if ch.at == 0:
            apply_rules()
        else:
            def rules_process(env):
                yield env.timeout(ch.at)
                apply_rules()
            twin.env.process(rules_process(twin.env))
    elif candidate and ch is not None:
        line.stop_on_violation = True
        target = (ch.plc_program or ch.setpoint).plc
        plc = twin.plcs[target]
        tag = ch.setpoint.tag if ch.setpoint is not None else None
        if ch.at == 0:
            state["pre"] = capture(plc, tag)
            apply_change(loaded, plc)
        else:
            def change_process(env):
                yield env.timeout(ch.at)
                state["pre"] = capture(plc, tag)
                apply_change(loaded, plc)
                line.event("change_applied", change=ch.kind, plc=target)
            twin.env.process(change_process(twin.env))
    stopped_by = virtual.run(twin, p.end)
    out: dict[str, Any] = {"stopped_by": stopped_by, "stopped_at_ms": twin.env.now if stopped_by else None}
    if candidate and ch is not None and ch.rules is not None:
        pre_rules = state.get("pre_rules")
        if pre_rules is not None:
            gw = twin.gateway
            out["observed_under_change"] = gw.observed()
            if "restore_baseline" in sc.rollback.steps:
                gw.network = loaded.network
                gw.set_policy(pre_rules.policy)
            line.event("rollback", steps=list(sc.rollback.steps))
            now = rules_fingerprint(gw.network)
            out["rollback"] = {"ok": now == pre_rules.fingerprint, "at_ms": twin.env.now, "items": {
                "rules_hash": {"expected": pre_rules.fingerprint, "actual": now, "ok": now == pre_rules.fingerprint}}}
        line.stop_on_violation = False
    elif candidate and ch is not None:
        pre = state.get("pre")
        if pre is not None:
            if "restore_baseline" in sc.rollback.steps:
                restore_baseline(twin.plcs[pre.plc], pre)
            line.event("rollback", steps=list(sc.rollback.steps))
            out["rollback"] = verify(twin.plcs[pre.plc], pre)
            out["rollback"]["at_ms"] = twin.env.now
        line.stop_on_violation = False
    violations_before = len(line.violations)
    twin.env.run(until=(twin.env.now + p.recover + p.observe) if stopped_by else p.total)
    window = line.finish()
    marks = line.marks
    out["window1"] = kpis.compute(loaded.line, marks["w1_start"], marks["w1_end"]) \
        if not stopped_by and "w1_start" in marks and "w1_end" in marks else None
    out["window2"] = kpis.compute(loaded.line, marks["w2_start"], window["end"]) \
        if not stopped_by and "w2_start" in marks else None
    out["violations"] = line.violations[:violations_before][:5]
    out["violations_after_rollback"] = line.violations[violations_before:][:5]
    out["invariants"] = {inv: not any(v["invariant"] == inv for v in line.violations[:violations_before])
                         for inv in ("tank_no_overflow", "no_motion_with_guard_open", "rejects_never_packed")}
    out["events"] = line.events
    out["samples"] = line.samples if detail else []
    if detail:
        out["gantt"] = line.gantt()
    out["firewall"] = {"log": twin.gateway.log, "observed": twin.gateway.observed()}
    out["plcs"] = {n: {"mode": pl.mode, "fault": pl.fault, "program": pl.program_hash, "version": pl.version}
                   for n, pl in twin.plcs.items()}
    return out


def replicate_pair(loaded: LoadedScenario, replication: int, skip: bool = True) -> dict[str, Any]:
    detail = replication == 0
    return {"replication": replication,
            "baseline": run_side(loaded, replication, False, skip=skip, detail=detail),
            "candidate": run_side(loaded, replication, True, skip=skip, detail=detail)}
