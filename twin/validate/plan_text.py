"""`twin validate --dry-run`: what would run, in words, without simulating."""

from __future__ import annotations

from ..engine.loading import LoadedScenario
from .checks import describe_tolerance
from .runner import plan


def _min(ms: float) -> str:
    return f"{ms / 60000:g} min" if ms < 7_200_000 else f"{ms / 3_600_000:g} h"


def describe_plan(loaded: LoadedScenario, replications: int | None = None) -> str:
    sc = loaded.scenario
    p = plan(loaded)
    ch = sc.change
    n = replications or sc.run.replications
    lines = [f"{sc.metadata.id}: {sc.metadata.title}", f"  scenario hash {loaded.hash[:16]}, seed {sc.metadata.seed}"]
    if ch.plc_program is not None:
        how = "full download from the start" if ch.at == 0 else f"online change at {_min(ch.at)}"
        lines.append(f"  change: {ch.plc_program.plc} program -> {ch.plc_program.program} "
                     f"(sha256 {loaded.change_program.hash[:16]}), {how}")
    elif ch.rules is not None:
        lines.append(f"  change: conduit {ch.rules.conduit} rules -> {ch.rules.file} at {_min(ch.at)} "
                     "(static diff against its intent, declared flows statically and as observed)")
    else:
        lines.append(f"  change: {ch.setpoint.plc}.{ch.setpoint.tag} := {ch.setpoint.value} at {_min(ch.at)}")
    lines += [
        f"  {n} paired replications (baseline and candidate on common random numbers), "
        f"{2 * n} runs of {_min(p.total)} each",
        f"  KPI window after the change: {_min(p.window_start)} .. {_min(p.end)}",
        f"  rollback at {_min(p.end)} ({', '.join(sc.rollback.steps) or 'no steps'}), verified; "
        f"steady state again {_min(p.end + p.recover)} .. {_min(p.total)}",
    ]
    for c in sc.steady_state.kpis:
        lines.append(f"  check {c.kpi} {describe_tolerance(c)} at {c.confidence:.0%} ({c.severity})")
    lines.append(f"  invariants: {', '.join(sc.steady_state.invariants)}")
    for inj in sc.injections:
        what = inj.technique or inj.fault
        lines.append(f"  injection at {_min(inj.at)}: {what}")
    return "\n".join(lines)
