"""Every check of a validation, named, with its status and its evidence.

KPI checks compare the candidate with the baseline replication by
replication (common random numbers make the differences paired) and decide
on the Student-t interval of the mean difference:

- relative (vs_baseline: -2%): PASS when the whole interval of the relative
  difference is on the allowed side of the tolerance, FAIL when the whole
  interval is beyond it, otherwise INCONCLUSIVE with the replications needed;
- equivalence (equivalence: 1%): the interval must lie inside +-band;
- absolute ([low, high]): the interval of the candidate's mean must lie
  inside the range.

A wrong GO is worse than no answer: anything the data cannot settle is
INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..model.change import LOWER_IS_BETTER, AbsoluteTolerance, EquivalenceTolerance, KpiCheck, RelativeTolerance
from .stats import interval, replications_needed

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"


@dataclass
class Check:
    name: str
    kind: str  # precondition | kpi | invariant | rollback | recovery
    status: str
    message: str
    severity: str = "hard"
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(v: float, kpi: str) -> str:
    if kpi.endswith("_per_h"):
        return f"{v:,.0f}/h"
    if kpi in ("mtbf_h",):
        return f"{v:.2f} h"
    if kpi in ("mttr_min",):
        return f"{v:.2f} min"
    return f"{100 * v:.2f} %"


def _fmt_diff(v: float, kpi: str) -> str:
    if kpi.endswith("_per_h"):
        return f"{v:+,.0f}/h"
    if kpi in ("mtbf_h", "mttr_min"):
        return f"{v:+.3g}"
    return f"{100 * v:+.2f} points"


def describe_tolerance(c: KpiCheck) -> str:
    t = c.tolerance
    if isinstance(t, RelativeTolerance):
        return f"vs_baseline {100 * t.vs_baseline:+g}%"
    if isinstance(t, EquivalenceTolerance):
        return f"equivalence +-{100 * t.equivalence:g}%"
    lo = "-inf" if t.low is None else f"{t.low:g}"
    hi = "inf" if t.high is None else f"{t.high:g}"
    return f"in [{lo}, {hi}]"


def kpi_check(c: KpiCheck, base: list[float | None], cand: list[float | None], phase: str) -> Check:
    name = f"{phase}: {c.kpi} {describe_tolerance(c)}"
    pairs = [(b, x) for b, x in zip(base, cand) if b is not None and x is not None]
    ev: dict[str, Any] = {"kpi": c.kpi, "phase": phase, "tolerance": describe_tolerance(c),
                          "pairs": [[b, x] for b, x in pairs], "confidence": c.confidence}
    if len(pairs) < 2:
        return Check(name, "kpi", INCONCLUSIVE, f"{len(pairs)} paired replication(s): at least 2 are needed to "
                     "estimate the variability", c.severity, ev)
    t = c.tolerance
    if isinstance(t, AbsoluteTolerance):
        iv = interval([x for _, x in pairs], c.confidence)
        ev["candidate"] = iv.as_dict()
        inside = (t.low is None or iv.lo >= t.low) and (t.high is None or iv.hi <= t.high)
        outside = (t.low is not None and iv.hi < t.low) or (t.high is not None and iv.lo > t.high)
        text = f"candidate {_fmt(iv.mean, c.kpi)} (CI {_fmt(iv.lo, c.kpi)} .. {_fmt(iv.hi, c.kpi)})"
        if inside:
            return Check(name, "kpi", PASS, text, c.severity, ev)
        if outside:
            return Check(name, "kpi", FAIL, text + f", outside {describe_tolerance(c)}", c.severity, ev)
        bound = t.low if t.low is not None and iv.lo < t.low else t.high
        need = replications_needed(iv.mean, iv.sd, bound, c.confidence, iv.n)
        ev["replications_needed"] = need
        return Check(name, "kpi", INCONCLUSIVE, text + f" straddles the bound {bound:g}; " + _need(need),
                     c.severity, ev)
    rel = [(x - b) / b for b, x in pairs if b != 0]
    diff = [x - b for b, x in pairs]
    if len(rel) < 2:
        return Check(name, "kpi", INCONCLUSIVE, "baseline value is zero: a relative difference is undefined",
                     c.severity, ev)
    iv = interval(rel, c.confidence)
    div = interval(diff, c.confidence)
    ev["relative_difference"] = iv.as_dict()
    ev["difference"] = div.as_dict()
    text = (f"{c.kpi} changed {100 * iv.mean:+.2f} % (CI {100 * iv.lo:+.2f} .. {100 * iv.hi:+.2f} %; "
            f"{_fmt_diff(div.mean, c.kpi)} absolute)")
    if isinstance(t, EquivalenceTolerance):
        band = t.equivalence
        if -band <= iv.lo and iv.hi <= band:
            return Check(name, "kpi", PASS, text, c.severity, ev)
        if iv.lo > band or iv.hi < -band:
            return Check(name, "kpi", FAIL, text + f": outside +-{100 * band:g} %", c.severity, ev)
        bound = band if iv.hi > band else -band
        need = replications_needed(iv.mean, iv.sd, bound, c.confidence, iv.n)
        ev["replications_needed"] = need
        return Check(name, "kpi", INCONCLUSIVE, text + f": not shown inside +-{100 * band:g} %; " + _need(need),
                     c.severity, ev)
    tol = t.vs_baseline
    lower_better = c.kpi in LOWER_IS_BETTER
    if lower_better:  # the tolerance caps how much the KPI may rise
        ok, bad = iv.hi <= tol, iv.lo > tol
    else:             # the tolerance caps how much the KPI may fall
        ok, bad = iv.lo >= tol, iv.hi < tol
    if ok:
        return Check(name, "kpi", PASS, text, c.severity, ev)
    if bad:
        return Check(name, "kpi", FAIL, text + f": beyond the {100 * tol:+g} % tolerance", c.severity, ev)
    need = replications_needed(iv.mean, iv.sd, tol, c.confidence, iv.n)
    ev["replications_needed"] = need
    return Check(name, "kpi", INCONCLUSIVE, text + f": the interval straddles {100 * tol:+g} %; " + _need(need),
                 c.severity, ev)


def _need(n: int | None) -> str:
    if n is None:
        return "the mean sits on the tolerance: no number of replications decides it"
    return f"about {n} replications would decide it"


def precondition_check(c: KpiCheck, base: list[float | None]) -> Check | None:
    """The baseline must meet the absolute part of its own steady state."""
    t = c.tolerance
    if not isinstance(t, AbsoluteTolerance):
        return None
    vals = [b for b in base if b is not None]
    name = f"precondition: baseline {c.kpi} {describe_tolerance(c)}"
    ev = {"kpi": c.kpi, "values": vals}
    if len(vals) < 2:
        return Check(name, "precondition", INCONCLUSIVE, "at least 2 replications are needed", "hard", ev)
    iv = interval(vals, c.confidence)
    ev["baseline"] = iv.as_dict()
    text = f"baseline {_fmt(iv.mean, c.kpi)} (CI {_fmt(iv.lo, c.kpi)} .. {_fmt(iv.hi, c.kpi)})"
    inside = (t.low is None or iv.lo >= t.low) and (t.high is None or iv.hi <= t.high)
    if inside:
        return Check(name, "precondition", PASS, text, "hard", ev)
    outside = (t.low is not None and iv.hi < t.low) or (t.high is not None and iv.lo > t.high)
    how = "is not" if outside else "is not shown to be"
    return Check(name, "precondition", FAIL, text + f": the baseline itself {how} {describe_tolerance(c)}",
                 "hard", ev)
