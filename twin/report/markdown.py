"""The run report: Markdown with PNG plots, written next to the journal.

`write_report(journal, target)` writes `target/report.md` and the plots
(see `plots.py`) and returns the report's path. The report reads only the
journal, so it can be rebuilt from any journal file later.

Audience: OT engineers and plant managers. Times in the journal are
milliseconds of simulated time; the report shows h:mm:ss and hours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

MS_PER_H = 3_600_000.0
TRACE_ROWS = 20          # signal changes shown per violation
BREAKDOWN_ROWS = 60      # breakdowns listed before the list is cut

# (summary key, label, definition, format)
KPIS = [
    ("oee", "OEE", "availability × effectiveness × quality", "pct"),
    ("availability", "Availability", "APT / PBT", "pct"),
    ("availability_excl_starved_blocked", "Availability excl. starved/blocked", "APT / (PBT − starved − blocked)",
     "pct"),
    ("effectiveness", "Effectiveness", "PRU × PQ(filler) / APT", "pct"),
    ("quality", "Quality ratio", "GQ / PQ", "pct"),
    ("scrap_ratio", "Scrap ratio", "SQ / PQ", "pct"),
    ("throughput_per_h", "Throughput (bottles/h)", "PQ / PBT", "int"),
    ("good_per_h", "Good bottles per hour", "GQ / PBT", "int"),
    ("mtbf_h", "MTBF (h)", "ΣTBF / FE, TBF = operating time", "f2"),
    ("mttr_min", "MTTR (min)", "ΣTTR / FE", "f2"),
]

INVARIANTS = {
    "tank_no_overflow": "the product tank never overflows",
    "no_motion_with_guard_open": "conveyors never run while the guard door is open or the e-stop is pressed",
    "rejects_never_packed": "bottles rejected at inspection never reach the packer",
}

EVENTS = {
    "warmup_end": "end of warm-up (KPIs are measured from here)",
    "breakdown": "station breakdown (HELD, counted as down time)",
    "repaired": "station repaired",
    "guard_open": "guard door opened by the operator (line stops)",
    "guard_closed": "guard door closed",
    "operator_start": "operator start request",
    "violation": "safety invariant violated",
}


# ------------------------------------------------------------------ format
def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


def num(v: float | None, kind: str) -> str:
    if v is None:
        return "–"
    if kind == "pct":
        return pct(v)
    if kind == "int":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def hours(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / MS_PER_H:,.3f} h"


def duration(ms: float) -> str:
    """A length of time: '7.5 h', '50 min', '90 s'."""
    h = ms / MS_PER_H
    if abs(h * 100 - round(h * 100)) < 1e-6 and h >= 1:
        return f"{h:g} h"
    if ms >= 60_000 and abs(ms / 60_000 - round(ms / 60_000, 2)) < 1e-6:
        return f"{ms / 60_000:g} min"
    return f"{ms / 1000:g} s" if ms < 60_000 else f"{h:.3f} h"


def hms(ms: float, decimals: int = 0) -> str:
    """Simulated time as h:mm:ss (optionally with fractions of a second)."""
    neg = ms < 0
    scale = 10 ** decimals
    units = round(abs(ms) / 1000.0 * scale)      # round once, so 59.6 s never shows as "60"
    whole, frac = divmod(units, scale)
    h, rest = divmod(whole, 3600)
    m, sec = divmod(rest, 60)
    tail = f".{frac:0{decimals}d}" if decimals else ""
    return f"{'-' if neg else ''}{h}:{m:02d}:{sec:02d}{tail}"


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A Markdown table; align is one character per column: l or r."""
    align = align or "l" * len(header)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _mean(reps: list[dict[str, Any]], get: Callable[[dict[str, Any]], float | None]) -> float | None:
    xs = [x for x in (get(r) for r in reps) if x is not None]
    return sum(xs) / len(xs) if xs else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------- sections
def _header(j: dict[str, Any]) -> str:
    sc, run = j["scenario"], j["run"]
    n = run["replications"]
    window = run["duration_ms"] - run["warmup_ms"]
    versions = ", ".join(f"{k} {v}" for k, v in j.get("versions", {}).items())
    plcs = ", ".join(f"{name} `{p['program_hash'][:12]}` ({p['cycle_ms']} ms)"
                     for name, p in j.get("plcs", {}).items())
    rows = [
        ["Scenario", f"**{sc['id']}** — {sc['title']}"],
        ["Scenario hash", f"`{sc['hash'][:12]}`"],
        ["Seed", str(j.get("seed", "–"))],
        ["Replications", str(n)],
        ["Mode", run.get("mode", "virtual")],
        ["Measured window", f"{duration(window)} ({duration(run['duration_ms'])} run − "
                            f"{duration(run['warmup_ms'])} warm-up)"],
        ["Constraint (KPI) station", j["line"]["kpi_station"]],
        ["Ideal rate", f"{j['line']['ideal_rate']:g} bottles/min (PRU {60 / j['line']['ideal_rate']:.3f} s)"],
    ]
    if plcs:
        rows.append(["PLC programs", plcs])
    rows.append(["Versions", versions])
    out = [f"# Run report: {sc['id']} — {sc['title']}", "", table(["", ""], rows)]
    notes = _run_notes(j)
    if notes:
        out += ["", *notes]
    return "\n".join(out)


def _run_notes(j: dict[str, Any]) -> list[str]:
    """Warnings a reader must see before trusting the numbers."""
    run = j["run"]
    window = run["duration_ms"] - run["warmup_ms"]
    notes = []
    for r in j["replications"]:
        if r.get("stopped_by"):
            notes.append(f"> - **Replication {r['replication']} stopped early** at {hms(r.get('end_ms', 0))} "
                         f"by the safety invariant `{r['stopped_by']}`.")
        pbt = r.get("raw", {}).get("PBT_ms")
        if pbt is not None and not r.get("stopped_by") and abs(pbt - window) > 1.0:
            notes.append(f"> - **Warning:** replication {r['replication']} measured {duration(pbt)}, "
                         f"but the run's window is {duration(window)}; KPIs use the measured time.")
    return notes


def _at_a_glance(j: dict[str, Any]) -> str:
    s = j["summary"]
    n = j["run"]["replications"]
    inv = j["invariants"]
    broken = [k for k, ok in inv.items() if not ok]
    ci = ""
    if n > 1 and s.get("oee", {}).get("ci"):
        ci = f" (95 % CI {pct(s['oee']['ci'][0])} – {pct(s['oee']['ci'][1])})"
    lines = [
        "## At a glance", "",
        f"- OEE **{pct(s['oee']['mean'])}**{ci}, availability {pct(s['availability']['mean'])}, "
        f"throughput **{num(s['throughput_per_h']['mean'], 'int')} bottles/h** "
        f"(ideal {j['line']['ideal_rate'] * 60:,.0f}/h).",
        _largest_loss(j),
        "- Safety invariants: " + ("**all held**." if not broken else
                                   "**BROKEN: " + ", ".join(f"`{b}`" for b in broken) + "**."),
    ]
    if n > 1:
        lines.append(f"- Figures are means over {n} replications (independent random streams, same seed).")
    return "\n".join(lines)


LOSSES = [("stopped_ms", "stopped by the PLC (line stops, e.g. guard open for a repair elsewhere)"),
          ("ADET_ms", "own breakdowns"), ("starved_ms", "starved"), ("blocked_ms", "blocked"),
          ("microstop_ms", "micro-stops")]


def _largest_loss(j: dict[str, Any]) -> str:
    reps = j["replications"]
    pbt = _mean(reps, lambda r: r.get("raw", {}).get("PBT_ms"))
    vals = [(_mean(reps, lambda r, k=k: r.get("raw", {}).get(k)) or 0.0, label) for k, label in LOSSES]
    ms, label = max(vals)
    if not pbt or ms <= 0:
        return f"- No time lost at the {j['line']['kpi_station']}."
    return (f"- Largest time loss at the {j['line']['kpi_station']}: {label}, "
            f"{hours(ms)} = {pct(ms / pbt)} of the measured window.")


def _kpi_table(j: dict[str, Any]) -> str:
    n = j["run"]["replications"]
    summary = j["summary"]
    header = ["KPI", "definition", "mean"] + (["95 % CI (Student t)"] if n > 1 else [])
    rows = []
    known = {k for k, *_ in KPIS}
    items = [(k, lbl, d, f) for k, lbl, d, f in KPIS if k in summary]
    items += [(k, k, "", "f2") for k in summary if k not in known]
    for key, label, definition, kind in items:
        s = summary[key]
        row = [label, definition, num(s.get("mean"), kind)]
        if n > 1:
            row.append(f"{num(s['ci'][0], kind)} – {num(s['ci'][1], kind)}" if s.get("ci") else "–")
        rows.append(row)
    out = ["## KPIs (ISO 22400-2)", "",
           f"Measured at the constraint station **{j['line']['kpi_station']}** after warm-up"
           + (f"; mean over {n} replications with the 95 % Student-t confidence interval." if n > 1 else "."),
           "", table(header, rows, "llr" + ("r" if n > 1 else ""))]
    fe = summary.get("mtbf_h", {})
    if fe.get("mean") is None and "mtbf_h" in summary:
        out += ["", "MTBF and MTTR are undefined: no breakdown of the constraint station in the measured window."]
    return "\n".join(out)


def _raw_table(j: dict[str, Any]) -> str:
    reps = j["replications"]
    n = len(reps)
    st = j["line"]["kpi_station"]

    def raw(key: str) -> float | None:
        return _mean(reps, lambda r: r.get("raw", {}).get(key))

    pbt = raw("PBT_ms")

    def share(ms: float | None) -> str:
        return pct(ms / pbt) if ms is not None and pbt else ""

    micro_n = _mean(reps, lambda r: r.get("time_elements", {}).get(st, {}).get("microstops"))
    time_rows = [
        ("PBT", "planned busy time (measured window)", "PBT_ms"),
        ("APT", "actual production time: EXECUTE + micro-stops", "APT_ms"),
        ("  of which micro-stops", "short stops, a performance loss inside APT", "microstop_ms"),
        ("ADET", "actual unit down time: breakdowns (HELD)", "ADET_ms"),
        ("starved", "waiting for bottles from upstream", "starved_ms"),
        ("blocked", "waiting for space downstream", "blocked_ms"),
        ("stopped", "stopped by the PLC (guard open, e-stop, restart)", "stopped_ms"),
        ("ΣTTR", "total time to repair (breakdowns)", "TTR_ms"),
    ]
    rows = [[name, meaning, hours(raw(key)), share(raw(key))] for name, meaning, key in time_rows]
    count_rows = [
        ("PQ (filler)", "bottles produced by the filler (effectiveness)", "PQ_unit"),
        ("PQ (line end)", "bottles that left the line: packed + rejected (quality, scrap, throughput)", "PQ"),
        ("GQ", "good bottles packed", "GQ"),
        ("SQ", "bottles rejected at inspection (scrap)", "SQ"),
        ("packed defective", "defective bottles the camera missed (packed, not good)", "packed_defective"),
        ("underfilled", "bottles filled below the minimum volume", "underfilled"),
        ("FE", "failure events (breakdowns) of the filler", "FE"),
    ]
    for name, meaning, key in count_rows:
        v = raw(key)
        if v is not None:
            rows.append([name, meaning, f"{v:,.1f}" if n > 1 and v != int(v) else f"{v:,.0f}", ""])
    if micro_n is not None:
        rows.append(["micro-stops", "number of micro-stops of the filler",
                     f"{micro_n:,.1f}" if micro_n != int(micro_n) else f"{micro_n:,.0f}", ""])
    pru = raw("PRU_ms")
    if pru is not None:
        rows.append(["PRU", "ideal production time per unit", f"{pru / 1000:.3f} s", ""])
    out = [f"### Raw time elements of the {st}" + (f" (mean of {n} replications)" if n > 1 else ""), "",
           table(["element", "meaning", "value", "share of PBT"], rows, "llrr")]
    # the time elements must add up to PBT; say so if they do not
    parts = [raw(k) for k in ("APT_ms", "ADET_ms", "starved_ms", "blocked_ms", "stopped_ms")]
    if pbt and all(p is not None for p in parts):
        gap = pbt - sum(parts)  # type: ignore[arg-type]
        if abs(gap) > 1000.0:
            out += ["", f"> **Note:** APT + ADET + starved + blocked + stopped differs from PBT by "
                        f"{gap / 1000:,.1f} s."]
    return "\n".join(out)


def _loss_treatment(j: dict[str, Any]) -> str:
    s = j["summary"]
    st = j["line"]["kpi_station"]
    return "\n".join([
        "## How losses are counted", "",
        f"- **Starved and blocked time** of the {st} is not down time of the unit itself. It is reported both ways: "
        f"as a loss in the headline availability = APT / PBT = **{pct(s['availability']['mean'])}**, and excluded "
        f"in availability excl. starved/blocked = APT / (PBT − starved − blocked) = "
        f"**{pct(s.get('availability_excl_starved_blocked', {}).get('mean'))}**.",
        "- **Stopped by the PLC** (guard open for a repair anywhere on the line, e-stop, waiting for the operator's "
        "restart) is a loss in both availabilities.",
        "- **Breakdowns** (HELD) are actual unit down time (ADET), an availability loss.",
        "- **Micro-stops** are counted inside APT, so they are a performance (effectiveness) loss, not an "
        "availability loss.",
        f"- **Quantities** for quality, scrap and throughput are counted at the line end: PQ = packed + rejected, "
        f"GQ = good bottles packed, SQ = rejected at inspection. Effectiveness uses the {st}'s own count, "
        "PRU × PQ(filler) / APT.",
        f"- **MTBF** = ΣTBF / FE, with TBF the operating time (APT) between failures; **MTTR** = ΣTTR / FE; "
        f"FE counts breakdowns of the {st} only (not micro-stops).",
        "- The warm-up period is simulated but not measured.",
    ])


def _station_table(j: dict[str, Any]) -> str:
    reps = j["replications"]
    n = len(reps)
    names = [s for s in j["line"]["flow"] if s in reps[0].get("time_elements", {})]
    kinds = {k: v.get("kind") for k, v in j["line"]["stations"].items()}
    names = [s for s in names if kinds.get(s) != "sink"]   # the sink only waits: nothing to report
    states = [("execute", "EXECUTE"), ("starved", "STARVED"), ("blocked", "BLOCKED"),
              ("held_breakdown", "HELD breakdown"), ("held_microstop", "HELD micro-stop"), ("stopped", "STOPPED")]
    rows = []
    for name in names:
        def te(key: str, name: str = name) -> float | None:
            return _mean(reps, lambda r: r["time_elements"][name].get(key))

        total = sum(te(k) or 0.0 for k, _ in states)
        row = [f"**{name}**" if name == j["line"]["kpi_station"] else name]
        row += [pct(te(k) / total) if total else "–" for k, _ in states]
        bd, rep_ms, ms = te("breakdowns"), te("repair_ms"), te("microstops")
        fmt = (lambda v: f"{v:.1f}") if n > 1 else (lambda v: f"{v:.0f}")
        row += [fmt(bd or 0), f"{(rep_ms or 0) / 60_000:.1f}", fmt(ms or 0)]
        rows.append(row)
    header = ["station"] + [lbl for _, lbl in states] + ["breakdowns", "repair (min)", "micro-stops"]
    return "\n".join([
        "## Station time elements", "",
        "Share of the measured window (PBT) per state" + (f", mean of {n} replications" if n > 1 else "")
        + f". The constraint station is in bold. STOPPED is a stop commanded by the PLC.",
        "", table(header, rows, "l" + "r" * (len(header) - 1))])


def _trace_table(v: dict[str, Any]) -> str:
    trace = v.get("trace") or []
    t0 = v["t_ms"]
    shown = trace[-TRACE_ROWS:]
    rows = [[hms(e["t_ms"], 3), f"{(e['t_ms'] - t0) / 1000:+.3f}", f"`{e['signal']}`", _value(e["value"])]
            for e in shown]
    head = (f"Last {len(shown)} of {len(trace)} signal changes in the 10 s before the violation:"
            if len(trace) > len(shown) else f"Signal changes in the 10 s before the violation ({len(trace)}):")
    if not trace:
        return "No signal changes were recorded before the violation."
    out = head + "\n\n" + table(["time", "Δt to violation (s)", "signal", "value"], rows, "lrll")
    # fast signals (tank level, bottle sensors) fill the last rows; give every signal's last value too
    last: dict[str, tuple[dict[str, Any], int]] = {}
    for e in trace:
        prev = last.get(e["signal"], (e, 0))[1]
        last[e["signal"]] = (e, prev + 1)
    if len(last) > len({e["signal"] for e in shown}):
        rows = [[f"`{name}`", _value(e["value"]), hms(e["t_ms"], 3), f"{(e['t_ms'] - t0) / 1000:+.3f}", str(k)]
                for name, (e, k) in sorted(last.items(), key=lambda kv: kv[1][0]["t_ms"])]
        out += ("\n\nEvery signal that changed in those 10 s, with its last value:\n\n"
                + table(["signal", "last value", "last change", "Δt to violation (s)", "changes"], rows, "llrrr"))
    return out


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _invariants(j: dict[str, Any]) -> str:
    reps = j["replications"]
    rows = []
    for inv, ok in j["invariants"].items():
        count = sum(r["invariants"].get(inv, {}).get("violations", 0) for r in reps)
        firsts = [(r["invariants"][inv].get("first_t_ms"), r["replication"]) for r in reps
                  if r["invariants"].get(inv, {}).get("first_t_ms") is not None]
        first = "–"
        if firsts:
            t, rep = min(firsts)
            first = hms(t, 3) + (f" (replication {rep})" if len(reps) > 1 else "")
        rows.append([f"`{inv}`", INVARIANTS.get(inv, ""), "ok" if ok else "**BROKEN**", str(count), first])
    out = ["## Safety invariants", "",
           table(["invariant", "meaning", "status", "violations", "first at"], rows, "lllrl")]
    for r in reps:
        vs = r.get("violations") or []
        total = sum(x.get("violations", 0) for x in r["invariants"].values())
        for k, v in enumerate(vs):
            detail = ", ".join(f"{key} = {_value(val)}" for key, val in v.items()
                               if key not in ("invariant", "t_ms", "trace"))
            title = f"### Violation: `{v['invariant']}` at {hms(v['t_ms'], 3)}"
            if len(reps) > 1:
                title += f" (replication {r['replication']})"
            out += ["", title, ""]
            if detail:
                out += [f"Detail: {detail}.", ""]
            out.append(_trace_table(v))
        if total > len(vs):
            out += ["", f"Replication {r['replication']}: {total - len(vs)} further violation(s) not kept "
                        "in the journal (only the first are kept)."]
    return "\n".join(out)


def _event_kind(e: dict[str, Any]) -> str:
    kind = e.get("event", "?")
    if kind == "operator_start" and e.get("accepted") is False:
        return "operator_start (refused)"
    return kind


def _events(j: dict[str, Any]) -> str:
    reps = j["replications"]
    n = len(reps)
    counts: dict[str, list[int]] = {}
    for i, r in enumerate(reps):
        for e in r.get("events", []):
            counts.setdefault(_event_kind(e), [0] * n)[i] += 1
    rows = []
    for kind, per in counts.items():
        base = kind.split(" ")[0]
        row = [f"`{kind}`", EVENTS.get(base, "")]
        row += [str(per[0])] if n == 1 else [str(sum(per)), f"{sum(per) / n:.1f}"]
        rows.append(row)
    header = ["event", "meaning"] + (["count"] if n == 1 else ["total", "per replication"])
    out = ["## Events", "", "Whole run, warm-up included.", "",
           table(header, rows, "ll" + "r" * (len(header) - 2)) if rows else "No events recorded."]

    warmup = j["run"]["warmup_ms"]
    brk = []
    for r in reps:
        guard_open = False
        evs = r.get("events", [])
        for i, e in enumerate(evs):
            if e.get("event") == "breakdown":
                opened = any(x.get("event") == "guard_open" and x["t_ms"] == e["t_ms"]
                             and x.get("reason") == f"clear {e.get('station')}" for x in evs[i:i + 4])
                guard = "opened" if opened else ("already open" if guard_open else "no")
                brk.append((r["replication"], e, guard))
            elif e.get("event") == "guard_open":
                guard_open = True
            elif e.get("event") == "guard_closed":
                guard_open = False
    out += ["", "### Breakdowns", ""]
    if not brk:
        out.append("No breakdowns.")
        return "\n".join(out)
    rows = []
    for rep, e, guard in brk[:BREAKDOWN_ROWS]:
        t = hms(e["t_ms"]) + (" (warm-up)" if e["t_ms"] < warmup else "")
        ttr = e.get("ttr_s")
        row = ([str(rep)] if n > 1 else []) + [t, e.get("station", "?"), e.get("mode", "?"),
                                                "–" if ttr is None else f"{ttr / 60:.1f}", guard]
        rows.append(row)
    header = (["replication"] if n > 1 else []) + ["time", "station", "mode", "repair (min)", "guard door"]
    out.append(table(header, rows, ("r" if n > 1 else "") + "lllrl"))
    if len(brk) > BREAKDOWN_ROWS:
        out += ["", f"… and {len(brk) - BREAKDOWN_ROWS} more (see the journal)."]
    return "\n".join(out)


def _plots(images: list[tuple[Path, str]], n: int) -> str:
    if not images:
        return "## Plots\n\nNo plot could be drawn from this journal."
    notes = {
        "throughput_oee.png": "Rates per interval from the cumulative counts and the constraint station's "
                              "cumulative time elements. Short spikes above the ideal rate are buffers "
                              "draining after a stop; OEE above 100 % in an interval means the filler ran "
                              "faster than the ideal rate.",
        "gantt.png": "One row per machine in flow order (the source and the sink are not shown).",
        "tank.png": "",
        "buffers.png": "Accumulation conveyors between the machines.",
        "replications_oee.png": "Each dot is one replication; the band is the 95 % confidence interval of the mean.",
    }
    out = ["## Plots"]
    for path, caption in images:
        out += ["", f"### {caption}", "", f"![{caption}]({path.name})"]
        if notes.get(path.name):
            out += ["", notes[path.name]]
    if n > 1:
        out += ["", "Time-series plots show replication 0."]
    return "\n".join(out)


# ---------------------------------------------------------------- entry
def render(journal: dict[str, Any], images: list[tuple[Path, str]]) -> str:
    """The report's Markdown text for a journal and the plots already written."""
    parts = [_header(journal), _at_a_glance(journal), _kpi_table(journal), _raw_table(journal),
             _loss_treatment(journal), _station_table(journal), _invariants(journal), _events(journal),
             _plots(images, journal["run"]["replications"])]
    return "\n\n".join(parts) + "\n"


def write_with_plots(journal: dict[str, Any], target: Path, make_plots, render_text) -> Path:
    """Write target/report.md from render_text(journal, images) after make_plots(journal, target)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    images = make_plots(journal, target)
    path = target / "report.md"
    path.write_text(render_text(journal, images), encoding="utf-8")
    return path


def write_report(journal: dict[str, Any], target: Path) -> Path:
    """Write target/report.md and its PNG plots; return the report's path."""
    from . import plots

    return write_with_plots(journal, target, plots.make_all, render)
