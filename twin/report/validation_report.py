"""The validation report: Markdown with PNG plots, written next to the validation journal.

`write_validation_report(journal, target)` writes `target/report.md` and the
plots (see `validation_plots.py`) and returns the report's path. It reads only
the journal (`kind: "validation"`), so it can be rebuilt from a journal file.

Order: the verdict first (what it means, the exit code), then what changed and
how it was run, every check (failing first), the KPI evidence, the rollback,
safety, and replication 0's timeline. Times in the journal are milliseconds of
simulated time; the report shows h:mm:ss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .markdown import INVARIANTS, KPIS, _value, duration, hms, num, table, write_with_plots

STATUS_ORDER = {"FAIL": 0, "INCONCLUSIVE": 1, "PASS": 2}
TRACE_ROWS = 12          # changes of the relevant signals listed per violation
MAX_RETAINED_ROWS = 20   # retained variables listed in the rollback section
NOTABLE_EVENTS = ("warmup_end", "change_applied", "attack", "fault_injected", "violation", "rollback")

# what each verdict means for the person deciding, and the CLI's exit code
VERDICTS = {
    "GO": ("GO", "every check passed: the change may go ahead."),
    "GO_WITH_WARNINGS": ("GO WITH WARNINGS", "only soft checks failed or stayed undecided: read the warnings "
                                             "before deploying."),
    "NO_GO": ("NO GO", "a hard check failed, or the rollback failed its verification: do not deploy."),
    "INCONCLUSIVE": ("INCONCLUSIVE", "the evidence does not decide (the baseline misses its own steady state, or "
                                     "a hard check needs more replications). This is never a pass."),
    "ABORTED_SAFETY": ("ABORTED: SAFETY", "a safety invariant broke in the candidate; the run was stopped and "
                                          "rolled back. Do not deploy."),
}
FALLBACK_EXIT_CODES = {"GO": 0, "GO_WITH_WARNINGS": 1, "NO_GO": 3, "INCONCLUSIVE": 4, "ABORTED_SAFETY": 5}
KPI_KIND = {k: kind for k, _label, _def, kind in KPIS}
KPI_LABEL = {k: label for k, label, _def, _kind in KPIS}
ROLLBACK_ITEMS = [("program_hash", "program hash"), ("retained_memory", "retained memory"),
                  ("configuration", "configuration"), ("mode", "mode"), ("setpoint", "setpoint")]


# ------------------------------------------------------------------ format
def exit_codes() -> dict[str, int]:
    try:
        from ..validate.verdict import EXIT_CODES
    except ImportError:  # pragma: no cover - the report can be rebuilt without the validator
        return dict(FALLBACK_EXIT_CODES)
    return dict(EXIT_CODES)


def level(v: float | None, kpi: str) -> str:
    """A KPI's value: ratios in %, rates per hour."""
    if v is None:
        return "–"
    kind = KPI_KIND.get(kpi, "f2")
    return num(v, kind) + (" /h" if kpi.endswith("_per_h") else "")


def diff(v: float | None, kpi: str) -> str:
    """An absolute difference of a KPI: percentage points for ratios."""
    if v is None:
        return "–"
    kind = KPI_KIND.get(kpi, "f2")
    if kind == "pct":
        return f"{100 * v:+.2f} pp"
    if kind == "int":
        return f"{v:+,.0f} /h" if kpi.endswith("_per_h") else f"{v:+,.0f}"
    return f"{v:+,.3g}"


def rel(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:+.2f} %"


def short(h: str | None) -> str:
    return "–" if not h else f"`{h[:12]}`"


def status(s: str) -> str:
    return f"**{s}**" if s != "PASS" else s


def _t(ms: float | None) -> str:
    return "–" if ms is None else hms(ms)


def _conf(ev: dict[str, Any]) -> str:
    return f"{100 * ev.get('confidence', 0.95):g} %"


# ----------------------------------------------------------------- helpers
def _doc(j: dict[str, Any]) -> dict[str, Any]:
    return j["scenario"].get("document") or {}


def _pairs(j: dict[str, Any]) -> list[dict[str, Any]]:
    return j.get("pairs") or []


def _rollbacks(j: dict[str, Any]) -> list[tuple[int, dict[str, Any] | None]]:
    return [(p["replication"], p["candidate"].get("rollback")) for p in _pairs(j)]


def _interval(xs: list[float], confidence: float) -> dict[str, Any] | None:
    from ..validate.stats import interval

    iv = interval(xs, confidence)
    return iv.as_dict() if iv is not None else None


def _ci(iv: dict[str, Any] | None, fmt) -> str:
    if not iv:
        return "–"
    return f"{fmt(iv['mean'])} ({fmt(iv['ci'][0])} … {fmt(iv['ci'][1])})"


def tolerance_text(tol: dict[str, Any] | None, kpi: str, fallback: str = "") -> str:
    """The tolerance in words."""
    from ..model.change import LOWER_IS_BETTER

    if not tol:
        return fallback or "–"
    if "vs_baseline" in tol:
        t = 100 * tol["vs_baseline"]
        return f"relative change {'≤' if kpi in LOWER_IS_BETTER else '≥'} {t:+g} % vs baseline"
    if "equivalence" in tol:
        return f"relative change within ±{100 * tol['equivalence']:g} % of baseline"
    lo, hi = tol.get("low"), tol.get("high")
    if lo is not None and hi is not None:
        return f"candidate mean in [{level(lo, kpi)}, {level(hi, kpi)}]"
    if lo is not None:
        return f"candidate mean ≥ {level(lo, kpi)}"
    if hi is not None:
        return f"candidate mean ≤ {level(hi, kpi)}"
    return fallback or "–"


def _tolerance(kpi: str, j: dict[str, Any]) -> dict[str, Any] | None:
    from .validation_plots import tolerance_of

    return tolerance_of({"evidence": {"kpi": kpi}}, j)


# ---------------------------------------------------------------- sections
def _banner(j: dict[str, Any]) -> str:
    sc = j["scenario"]
    v = j["verdict"]
    title, meaning = VERDICTS.get(v, (v, ""))
    codes = exit_codes()
    code = codes.get(v)
    legend = " · ".join(f"{c} {name}" for name, c in sorted(codes.items(), key=lambda kv: kv[1]))
    out = [f"# Validation report: {sc['id']} — {sc['title']}", "",
           f"> ## Verdict: {title}", ">",
           f"> **{j['reason']}**", ">",
           f"> {meaning}", ">",
           f"> `twin validate` exits with **{code}** for `{v}` (exit codes: {legend}; 2 bad input)."]
    return "\n".join(out)


def _change_rows(j: dict[str, Any]) -> list[list[str]]:
    ch = j.get("change") or {}
    doc_ch = _doc(j).get("change") or {}
    at = ch.get("at_ms", 0.0) or 0.0
    rows: list[list[str]] = []
    kind = ch.get("kind")
    if kind == "plc_program":
        pp = doc_ch.get("plc_program") or {}
        plc = pp.get("plc", "?")
        before = (ch.get("baseline_program") or {}).get(plc)
        version = f" (version {pp['version']})" if pp.get("version") else ""
        rows.append(["Change", f"new program for `{plc}`: `{pp.get('program', '?')}`{version}"])
        rows.append(["Program hash (sha256)", f"{short(before)} → {short(ch.get('candidate_program'))}"])
        how = ("full download before the run starts: in effect from 0:00:00" if at == 0
               else f"online change at {hms(at)}")
        rows.append(["Applied", how])
    elif kind == "setpoint":
        sp = ch.get("setpoint") or doc_ch.get("setpoint") or {}
        before = next((rb["items"]["setpoint"]["expected"] for _, rb in _rollbacks(j)
                       if rb and "setpoint" in rb.get("items", {})), None)
        rows.append(["Change", f"setpoint `{sp.get('plc', '?')}.{sp.get('tag', '?')}`: "
                               f"{'?' if before is None else _value(before)} → {_value(sp.get('value'))}"])
        rows.append(["Applied", f"written at {hms(at)}"])
    elif kind is not None:
        detail = doc_ch.get(kind) or {}
        rows.append(["Change", f"{kind}: " + ", ".join(f"{k} = `{v}`" for k, v in sorted(detail.items()))])
        rows.append(["Applied", f"at {hms(at)}"])
    else:
        rows.append(["Change", "none recorded in the journal"])
    return rows


def _plan_text(j: dict[str, Any]) -> list[list[str]]:
    run, p = j["run"], j["run"]["plan"]
    steps = ", ".join(((_doc(j).get("rollback") or {}).get("steps")) or []) or "no steps"
    rec_end = p["end_ms"] + p["recover_ms"]
    early = [(q["replication"], q["candidate"]["rollback"]["at_ms"]) for q in _pairs(j)
             if q["candidate"].get("stopped_by") and q["candidate"].get("rollback")]
    rb_text = (f"at {hms(p['end_ms'])} ({steps}), then verified against the pre-change snapshot; "
               "at once if a safety invariant breaks")
    if early:
        rb_text += ("; **here early, after the violation:** " +
                    ", ".join(f"{hms(t)} (replication {r})" for r, t in early[:6]) + ("…" if len(early) > 6 else ""))
    return [
        ["Warm-up", f"0:00:00 – {hms(run['warmup_ms'])} (not measured)"],
        ["KPI window 1 (change in effect)", f"{hms(p['window_start_ms'])} – {hms(p['end_ms'])} "
                                            f"({duration(p['end_ms'] - p['window_start_ms'])})"],
        ["Rollback", rb_text],
        ["Recovery allowance", f"{duration(p['recover_ms'])} (until {hms(rec_end)})"
                               if p["recover_ms"] else "none"],
        ["KPI window 2 (after rollback)", f"{hms(rec_end)} – {hms(rec_end + p['observe_ms'])} "
                                          f"({duration(p['observe_ms'])})"],
    ]


def _header(j: dict[str, Any]) -> str:
    sc, run = j["scenario"], j["run"]
    n = run["replications"]
    rows = _change_rows(j)
    for inj in _doc(j).get("injections") or []:
        rows.append(["Injection (both runs)", _injection_text(inj)])
    rows += _plan_text(j)
    rows += [
        ["Replications", f"{n} paired: baseline and candidate run on the same random streams "
                         "(common random numbers)"],
        ["Seed", f"{j.get('seed', '–')} (replication r draws its random streams from seed and r)"],
        ["Scenario hash", f"`{sc['hash'][:12]}`"],
        ["Constraint (KPI) station", j["line"]["kpi_station"]],
        ["Versions", ", ".join(f"{k} {v}" for k, v in sorted((j.get("versions") or {}).items()))],
    ]
    return "\n".join(["## What was validated", "", table(["", ""], rows)])


def _injection_text(inj: dict[str, Any]) -> str:
    at = hms(float(inj.get("at", 0.0)))
    if inj.get("technique"):
        what = ", ".join(f"`{k}` := {_value(v)}" for k, v in sorted((inj.get("set") or {}).items()))
        src = f" from {inj['from']}" if inj.get("from") else ""
        return f"{at}: attack {inj['technique']}{src} → `{inj.get('to')}`: {what}"
    extra = f" `{inj['station']}`" if inj.get("station") else ""
    length = f" for {duration(inj['for'])}" if inj.get("for") else ""
    return f"{at}: fault {inj.get('fault')}{extra}{length}"


def _checks(j: dict[str, Any]) -> str:
    checks = sorted(enumerate(j["checks"]), key=lambda ic: (STATUS_ORDER.get(ic[1]["status"], 3), ic[0]))
    counts = {s: sum(1 for c in j["checks"] if c["status"] == s) for s in STATUS_ORDER}
    rows = [[status(c["status"]), c["kind"], c.get("severity", "hard"), c["name"], c["message"]] for _, c in checks]
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts[s])
    return "\n".join(["## Checks", "",
                      f"{len(j['checks'])} checks: {summary}. Failing and undecided checks first.", "",
                      table(["status", "kind", "severity", "check", "message"], rows)])


def kpi_evidence_rows(j: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per KPI check: the numbers the report shows (also used by the tests)."""
    out = []
    for c in j["checks"]:
        if c["kind"] != "kpi":
            continue
        ev = c.get("evidence") or {}
        kpi = ev.get("kpi") or c["name"].split(": ", 1)[-1].split(" ")[0]
        pairs = ev.get("pairs") or []
        conf = ev.get("confidence", 0.95)
        row: dict[str, Any] = {"check": c, "kpi": kpi, "phase": ev.get("phase", c["name"].split(":")[0]),
                               "n": len(pairs), "tolerance": _tolerance(kpi, j), "evaluated": bool(pairs)}
        if pairs:
            row["baseline_mean"] = sum(b for b, _ in pairs) / len(pairs)
            row["candidate_mean"] = sum(x for _, x in pairs) / len(pairs)
            row["difference"] = ev.get("difference") or _interval([x - b for b, x in pairs], conf)
            row["relative_difference"] = ev.get("relative_difference") or \
                _interval([(x - b) / b for b, x in pairs if b], conf)
            row["candidate"] = ev.get("candidate")
        out.append(row)
    return out


def _kpi_evidence(j: dict[str, Any], images: dict[str, Path]) -> str:
    rows_data = kpi_evidence_rows(j)
    out = ["## KPI evidence", ""]
    if not rows_data:
        return "\n".join(out + ["No KPI checks in this scenario."])
    conf = next((_conf(r["check"]["evidence"]) for r in rows_data if r["evaluated"]), "95 %")
    out += [f"Each replication runs the baseline and the candidate on the same random streams, so the "
            f"candidate − baseline differences are paired. Means over the replications; the intervals are "
            f"{conf} Student-t confidence intervals of the mean paired difference (absolute, and relative to "
            "the baseline). Relative tolerances are decided on the interval of the relative difference; "
            "absolute ranges on the interval of the candidate's own mean.", ""]
    rows = []
    for r in rows_data:
        c, kpi = r["check"], r["kpi"]
        label = f"{r['phase']}: {KPI_LABEL.get(kpi, kpi)}"
        tol = tolerance_text(r["tolerance"], kpi, (c.get("evidence") or {}).get("tolerance", ""))
        if not r["evaluated"]:
            rows.append([label, status(c["status"]), "0", "–", "–", "–", "–", tol, c["message"]])
            continue
        decided = decision_text(r)
        need = c["evidence"].get("replications_needed")
        if need:
            decided += f"; about {need} replications would decide it"
        rows.append([label, status(c["status"]), str(r["n"]), level(r["baseline_mean"], kpi),
                     level(r["candidate_mean"], kpi), _ci(r["difference"], lambda v: diff(v, kpi)),
                     _ci(r["relative_difference"], rel), tol, decided])
    header = ["check", "status", "n", "baseline mean", "candidate mean", f"mean difference ({conf} CI)",
              f"relative difference ({conf} CI)", "tolerance", "decision basis"]
    out.append(table(header, rows, "llrrrrrll"))
    if not any(r["evaluated"] for r in rows_data):
        return "\n".join(out + ["", "No KPI check could be evaluated: the candidate was stopped by a safety "
                                    "invariant before its KPI window ended."])
    out += ["", "pp = percentage points. For absolute ranges the differences are for information; the "
                "decision uses the candidate's own interval."]
    identical = identical_note(j, rows_data)
    if identical:
        out += ["", identical]
    out += ["", _per_replication(rows_data)]
    if "differences" in images:
        out += ["", "### Paired differences per replication", "",
                f"![Paired differences per KPI check]({images['differences'].name})", "",
                "One panel per KPI check. Relative checks: each dot is one replication's candidate-vs-baseline "
                "change; absolute ranges: each replication's baseline (open) and candidate (filled) level. The "
                "diamond is the mean with its confidence interval; the green band is what the tolerance allows."]
    return "\n".join(out)


def identical_note(j: dict[str, Any], rows_data: list[dict[str, Any]]) -> str:
    """A warning when the candidate's KPIs equal the baseline's in every replication: either the change
    does not touch what the KPIs measure, or it never took effect. Replication 0's samples tell which."""
    evaluated = [r for r in rows_data if r["evaluated"]]
    if not evaluated or any(b != x for r in evaluated for b, x in r["check"]["evidence"]["pairs"]):
        return ""
    text = ("> **Note:** every KPI of the candidate equals the baseline's in every replication (a zero-width "
            "interval).")
    pairs = _pairs(j)
    if pairs:
        base = pairs[0]["baseline"].get("samples") or []
        cand = pairs[0]["candidate"].get("samples") or []
        n = min(len(base), len(cand))
        if n:
            differ = sum(1 for a, b in zip(base[:n], cand[:n]) if {k: v for k, v in a.items() if k != "t_ms"}
                         != {k: v for k, v in b.items() if k != "t_ms"})
            if differ:
                text += (f" The change did take effect: {differ} of {n} samples of replication 0 differ "
                         "(tank, buffers or counts), but not in a way the KPIs measure.")
            else:
                text += (" Replication 0's samples are identical too: check that the change was really "
                         "applied.")
    return text


def _side(lo: float, hi: float, bound: float, fmt) -> str:
    if lo > bound:
        return f"wholly above {fmt(bound)}"
    if hi < bound:
        return f"wholly below {fmt(bound)}"
    return f"straddles {fmt(bound)}"


def decision_text(r: dict[str, Any]) -> str:
    """Where the interval the decision uses lies relative to the tolerance."""
    tol, kpi = r["tolerance"] or {}, r["kpi"]
    if "low" in tol or "high" in tol:
        iv = r.get("candidate")
        if not iv:
            return ""
        lo, hi = iv["ci"]
        parts = [_side(lo, hi, b, lambda v: level(v, kpi)) for b in (tol.get("low"), tol.get("high"))
                 if b is not None]
        return f"candidate CI {level(lo, kpi)} … {level(hi, kpi)} " + "; ".join(parts)
    iv = r.get("relative_difference")
    if not iv:
        return ""
    lo, hi = iv["ci"]
    pct = lambda v: f"{100 * v:+g} %"  # noqa: E731
    if "equivalence" in tol:
        band = tol["equivalence"]
        inside = -band <= lo and hi <= band
        return f"relative CI {'wholly inside' if inside else 'not inside'} ±{100 * band:g} %"
    if "vs_baseline" in tol:
        return "relative CI " + _side(lo, hi, tol["vs_baseline"], pct)
    return ""


def _per_replication(rows_data: list[dict[str, Any]]) -> str:
    evaluated = [r for r in rows_data if r["evaluated"]]
    if not evaluated:
        return ""
    n = max(r["n"] for r in evaluated)
    header = ["replication"] + [f"{r['phase']}: {r['kpi']}" for r in evaluated]
    rows = []
    for i in range(n):
        row = [str(i)]
        for r in evaluated:
            pairs = r["check"]["evidence"]["pairs"]
            if i >= len(pairs):
                row.append("–")
                continue
            b, x = pairs[i]
            change = f" ({rel((x - b) / b)})" if b else ""
            row.append(f"{level(b, r['kpi'])} → {level(x, r['kpi'])}{change}")
        rows.append(row)
    return "\n".join(["### Per replication (baseline → candidate)", "",
                      table(header, rows, "r" + "r" * len(evaluated))])


def _timelines(j: dict[str, Any], images: dict[str, Path]) -> str:
    out = ["## Baseline against candidate over time", ""]
    if "timelines" not in images:
        return "\n".join(out + ["No time series in the journal (replication 0 keeps them)."])
    return "\n".join(out + [
        f"![Throughput and OEE over time, baseline and candidate]({images['timelines'].name})", "",
        "Replication 0, rates per 5-min interval from the cumulative counts (throughput at the line end, OEE at "
        f"the {j['line']['kpi_station']}). Both runs share their random streams, so where the lines part the "
        "change made the difference. Vertical lines: injections, the rollback and the end of the recovery "
        "allowance."])


def _rollback(j: dict[str, Any], images: dict[str, Path]) -> str:
    out = ["## Rollback", ""]
    rbs = _rollbacks(j)
    if not rbs:
        return "\n".join(out + ["No replications in the journal."])
    failed = [(r, rb) for r, rb in rbs if rb is None or not rb.get("ok")]
    shown_r, shown = failed[0] if failed else rbs[0]
    verdict = ("**Rollback failed its verification** in replication(s) " + ", ".join(str(r) for r, _ in failed)
               if failed else f"Rollback verified in all {len(rbs)} replications: the PLC is back in the state "
                              "of the pre-change snapshot.")
    out += [verdict, ""]
    if shown is None:
        out += [f"Replication {shown_r}: no rollback ran (the change was never applied, or the run ended first)."]
    else:
        out += [f"### Verification, replication {shown_r} (rollback at {hms(shown['at_ms'])})", ""]
        rows = []
        items = shown.get("items") or {}
        for key, label in ROLLBACK_ITEMS:
            if key not in items:
                continue
            it = items[key]
            rows.append([label, _rb_value(key, it["expected"]), _rb_value(key, it["actual"], it["expected"]),
                         "equal" if it["ok"] else "**DIFFERENT**"])
        for key, it in sorted(items.items()):
            if key not in dict(ROLLBACK_ITEMS):
                rows.append([key, _rb_value(key, it["expected"]), _rb_value(key, it["actual"]),
                             "equal" if it["ok"] else "**DIFFERENT**"])
        out.append(table(["item", "expected (pre-change snapshot)", "actual (after rollback)", "result"], rows))
        ret = items.get("retained_memory")
        if ret and isinstance(ret["expected"], dict) and ret["expected"]:
            names = sorted(set(ret["expected"]) | set(ret.get("actual") or {}))
            rows = []
            for name in names[:MAX_RETAINED_ROWS]:
                e, a = ret["expected"].get(name, "–"), (ret.get("actual") or {}).get(name, "–")
                rows.append([f"`{name}`", _value(e), _value(a), "equal" if e == a else "**DIFFERENT**"])
            out += ["", "Retained memory:", "", table(["variable", "expected", "actual", "result"], rows, "lrrl")]
            if len(names) > MAX_RETAINED_ROWS:
                out += ["", f"… and {len(names) - MAX_RETAINED_ROWS} more (see the journal)."]
    out += ["", "### Per replication", "", _rollback_per_replication(j)]
    if "recovery" in images:
        out += ["", "### Recovery after the rollback", "",
                f"![Throughput around the rollback]({images['recovery'].name})", "",
                "Replication 0, from 30 min before the rollback to the end of the run. Below: bottles out of the "
                "line, candidate minus baseline, counted from the left edge; once it runs flat the rolled-back "
                "line produces at the baseline's rate again."]
    return "\n".join(out)


def _rb_value(key: str, v: Any, other: Any = None) -> str:
    if key in ("program_hash", "configuration") and isinstance(v, str):
        return short(v)
    if isinstance(v, dict):
        if other is not None and isinstance(other, dict):
            bad = [k for k in sorted(set(v) | set(other)) if v.get(k) != other.get(k)]
            if bad:
                return f"{len(v)} variables; different: " + ", ".join(f"`{k}` = {_value(v.get(k, '–'))}"
                                                                      for k in bad[:5])
        return f"{len(v)} variables"
    return _value(v)


def _rollback_per_replication(j: dict[str, Any]) -> str:
    keys = [k for k, _ in ROLLBACK_ITEMS if any(rb and k in rb.get("items", {}) for _, rb in _rollbacks(j))]
    labels = dict(ROLLBACK_ITEMS)
    rows = []
    for p in _pairs(j):
        cand = p["candidate"]
        rb = cand.get("rollback")
        stopped = (f"{cand['stopped_by']} at {hms(cand['stopped_at_ms'])}" if cand.get("stopped_by") else "no")
        row = [str(p["replication"]), stopped, _t(rb["at_ms"]) if rb else "no rollback"]
        for k in keys:
            it = (rb or {}).get("items", {}).get(k)
            row.append("–" if it is None else ("equal" if it["ok"] else "**DIFFERENT**"))
        row.append("–" if rb is None else ("yes" if rb.get("ok") else "**NO**"))
        after = cand.get("violations_after_rollback") or []
        row.append("none" if not after else "**" + ", ".join(f"{v['invariant']} at {hms(v['t_ms'])}"
                                                            for v in after[:2]) + "**")
        rows.append(row)
    header = ["replication", "candidate stopped by", "rollback at"] + [labels[k] for k in keys] + \
             ["verified", "violations after rollback"]
    return table(header, rows, "rll" + "l" * len(keys) + "ll")


def _safety(j: dict[str, Any], images: dict[str, Path]) -> str:
    pairs = _pairs(j)
    n = len(pairs)
    invs = (_doc(j).get("steady_state") or {}).get("invariants") or list(INVARIANTS)
    rows = []
    for inv in invs:
        cells = [f"`{inv}`", INVARIANTS.get(inv, "")]
        for side, key in (("baseline", "violations"), ("candidate", "violations"),
                          ("candidate", "violations_after_rollback")):
            hits = [(v["t_ms"], p["replication"]) for p in pairs for v in p[side].get(key) or []
                    if v["invariant"] == inv]
            if key == "violations" and not hits:
                hits = [(None, p["replication"]) for p in pairs if not p[side].get("invariants", {}).get(inv, True)]
            if not hits:
                cells.append("held")
                continue
            reps = sorted({r for _, r in hits})
            first = min((h for h in hits if h[0] is not None), default=None)
            where = f", first at {hms(first[0], 1)} (replication {first[1]})" if first else ""
            cells.append(f"**BROKEN** in {len(reps)} of {n}{where}")
        rows.append(cells)
    out = ["## Safety", "",
           "The candidate is stopped at the first broken invariant and rolled back at once.", "",
           table(["invariant", "meaning", "baseline", "candidate", "candidate after rollback"], rows)]
    from .validation_plots import first_violation

    found = first_violation(j)
    if found is None:
        return "\n".join(out + ["", "No invariant was broken: there is no counterexample."])
    r, v, when = found
    detail = _detail(v)
    out += ["", f"### Counterexample: `{v['invariant']}` at {hms(v['t_ms'], 3)} "
                f"(replication {r}, {when})", ""]
    if detail:
        out += [f"Detail: {detail}.", ""]
    pair = next(p for p in pairs if p["replication"] == r)
    side = "baseline" if when == "baseline" else "candidate"
    out.append(_trace_tables(v, pair[side].get("samples") or []))
    if "counterexample" in images:
        out += ["", f"![Counterexample: {v['invariant']}]({images['counterexample'].name})", "",
                "The relevant signals over the recorded trace (10 s before the violation), the violation at 0."
                + (" Top: the tank level of both runs over the 20 minutes before it." if
                   v["invariant"] == "tank_no_overflow" and pair[side].get("samples") else "")]
    others = [(p["replication"], when_, x) for p in pairs
              for when_, side_, key in (("candidate", "candidate", "violations"),
                                        ("after rollback", "candidate", "violations_after_rollback"),
                                        ("baseline", "baseline", "violations"))
              for x in p[side_].get(key) or [] if x is not v]
    if others:
        rows = [[str(rr), w, f"`{x['invariant']}`", hms(x["t_ms"], 3), _detail(x)]
                for rr, w, x in sorted(others, key=lambda o: (o[0], o[2]["t_ms"]))]
        out += ["", "### Other violations", "",
                table(["replication", "run", "invariant", "time", "detail"], rows, "rllll")]
    return "\n".join(out)


def _detail(v: dict[str, Any]) -> str:
    """A violation's detail fields (level, bottle, condition), without its trace."""
    return ", ".join(f"{k} = {_plain(x)}" for k, x in sorted(v.items()) if k not in ("invariant", "t_ms", "trace"))


def _trace_tables(v: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    """Compact counterexample: every relevant signal's state at the violation, then its last changes."""
    from .validation_plots import INVARIANT_SIGNALS, signal_history

    trace = v.get("trace") or []
    t_v = v["t_ms"]
    t0 = min([e["t_ms"] for e in trace] + [t_v - 10_000.0])
    relevant = INVARIANT_SIGNALS.get(v["invariant"], [])
    counts: dict[str, int] = {}
    for e in trace:
        counts[e["signal"]] = counts.get(e["signal"], 0) + 1
    names = [s for s in relevant] + sorted((s for s in counts if s not in relevant), key=lambda s: -counts[s])
    rows = []
    for name in names:
        start, changes, sampled_at = signal_history(trace, name, t0, t_v, samples)
        if changes:
            t_last, val = changes[-1]
            rows.append([f"`{name}`" + (" ★" if name in relevant else ""), _value(val), hms(t_last, 3),
                         f"{(t_last - t_v) / 1000:+.3f}", str(len(changes))])
        elif start is not None:
            src = ("sampled in the window" if sampled_at is None
                   else f"sampled at {hms(sampled_at, 1)}, {(t0 - sampled_at) / 1000:.0f} s before the window")
            rows.append([f"`{name}`" + (" ★" if name in relevant else ""), _value(start), f"no change ({src})",
                         "", "0"])
        elif name in relevant:
            rows.append([f"`{name}` ★", "not recorded", "no change in the window", "", "0"])
    out = [f"The trace holds {len(trace)} signal changes from {hms(t0, 3)} to the violation. Every signal at the "
           "moment of the violation (★ = relevant to this invariant):", "",
           table(["signal", "last value before the violation", "last change", "Δt to violation (s)", "changes"], rows,
                 "llrrr")]
    rel_changes = [e for e in trace if e["signal"] in relevant]
    if rel_changes:
        shown = rel_changes[-TRACE_ROWS:]
        head = (f"Last {len(shown)} of {len(rel_changes)} changes of the relevant signals:"
                if len(rel_changes) > len(shown) else f"Changes of the relevant signals ({len(shown)}):")
        out += ["", head, "", table(["time", "Δt to violation (s)", "signal", "value"],
                                    [[hms(e["t_ms"], 3), f"{(e['t_ms'] - t_v) / 1000:+.3f}", f"`{e['signal']}`",
                                      _value(e["value"])] for e in shown], "lrll")]
    return "\n".join(out)


def _timeline(j: dict[str, Any]) -> str:
    pairs = _pairs(j)
    out = ["## Timeline of replication 0", ""]
    if not pairs:
        return "\n".join(out + ["No replications."])
    p = pairs[0]
    rows = []
    for side in ("baseline", "candidate"):
        for e in p[side].get("events") or []:
            if e.get("event") not in NOTABLE_EVENTS:
                continue
            detail = ", ".join(f"{k} = {_plain(v)}" for k, v in sorted(e.items()) if k not in ("t_ms", "event"))
            rows.append((e["t_ms"], side, e["event"], detail))
    rows.sort(key=lambda r: (r[0], r[1]))
    if not rows:
        return "\n".join(out + ["No notable events."])
    return "\n".join(out + ["Injections, the change, violations and the rollback, in both runs (breakdowns and "
                            "repairs are in the journal).", "",
                            table(["time", "run", "event", "detail"],
                                  [[hms(t, 1), s, f"`{ev}`", d] for t, s, ev, d in rows], "llll")])


def _plain(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_plain(x)}" for k, x in sorted(v.items())) + "}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_plain(x) for x in v)
    return _value(v)


def _files(j: dict[str, Any]) -> str:
    files = j["scenario"].get("files") or {}
    if not files:
        return ""
    rows = [[f"`{name}`", f"`{h[:16]}`"] for name, h in sorted(files.items())]
    return "\n".join(["## Files (sha256)", "", "The journal holds everything needed to replay this validation.", "",
                      table(["file", "sha256"], rows)])


# ---------------------------------------------------------------- entry
def render(journal: dict[str, Any], images: dict[str, Path]) -> str:
    """The report's Markdown for a validation journal and the plots already written."""
    parts = [_banner(journal), _header(journal), _checks(journal), _timelines(journal, images),
             _kpi_evidence(journal, images), _rollback(journal, images), _safety(journal, images),
             _timeline(journal), _files(journal)]
    return "\n\n".join(p for p in parts if p) + "\n"


def write_validation_report(journal: dict[str, Any], target: Path) -> Path:
    """Write target/report.md and its PNG plots; return the report's path."""
    from . import validation_plots

    return write_with_plots(journal, target, validation_plots.make_all, render)
