"""Plots for the validation report (matplotlib, Agg backend).

Reads only the validation journal (`kind: "validation"`). Each function
writes one PNG into the target directory and returns its path, or None when
the journal holds no data for that plot. matplotlib is imported inside the
functions (Agg backend), never at module level, so importing twin stays fast.

- `kpi_timelines`   baseline against candidate: throughput and OEE over time (replication 0)
- `paired_differences`  one panel per KPI check: the paired differences per replication,
                    their mean, its confidence interval and the tolerance
- `counterexample`  the signals around the first safety violation of the candidate
- `rollback_recovery`  throughput of both runs from 30 min before the rollback to the end

Times in the journal are milliseconds of simulated time; the plots show hours
(minutes or seconds for the zoomed ones).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .plots import DPI, MS_PER_H, WARMUP_COLOUR, _figure, _save, rate_series, thin

TIMELINE_STEP_MS = 300_000.0    # KPI timelines: rates over 5-min intervals (1-min rates are too spiky to compare)
RECOVERY_STEP_MS = 120_000.0    # rollback plot: 2-min intervals
RECOVERY_BEFORE_MS = 1_800_000.0

BASELINE = "#1f77b4"       # blue
CANDIDATE = "#d62728"      # red
CHANGE_C = "#9467bd"       # purple
ROLLBACK_C = "#2ca02c"     # green
RECOVER_C = "#bcbd22"      # olive
ATTACK_C = "#ff7f0e"       # orange
STATUS_COLOURS = {"PASS": "#2ca02c", "FAIL": "#d62728", "INCONCLUSIVE": "#ff7f0e"}

# the signals that explain each invariant's counterexample (shown first, marked in the report)
INVARIANT_SIGNALS: dict[str, list[str]] = {
    "tank_no_overflow": ["tank.level", "tank.inlet_pump", "tank.inlet_valve", "filler.fill_valve"],
    "no_motion_with_guard_open": ["conveyors.run", "conveyors.running", "safety.guard_closed", "safety.estop_ok",
                                  "operator.start_pb", "operator.stop_pb"],
    "rejects_never_packed": ["inspection.bottle_at_gate", "inspection.defect_detected", "inspection.reject_gate",
                             "packer.bottle_present"],
}
# where a signal's state can be read from a sample when it did not change in the trace window
SAMPLE_KEYS = {"tank.level": ("tank", "level"), "tank.inlet_pump": ("tank", "pump"),
               "tank.inlet_valve": ("tank", "valve"), "filler.fill_valve": ("tank", "fill"),
               "conveyors.run": ("conveyors",), "conveyors.running": ("conveyors",)}
MAX_LANES = 7


# ----------------------------------------------------------------- helpers
def _pair0(journal: dict[str, Any]) -> dict[str, Any] | None:
    pairs = journal.get("pairs") or []
    return pairs[0] if pairs else None


def _pru_ms(journal: dict[str, Any]) -> float:
    return 60_000.0 / journal["line"]["ideal_rate"]


def _plan(journal: dict[str, Any]) -> dict[str, float]:
    return journal["run"]["plan"]


def rollback_at(journal: dict[str, Any], pair: dict[str, Any] | None = None) -> float | None:
    """When the candidate was rolled back in this pair (replication 0 by default)."""
    pair = pair if pair is not None else _pair0(journal)
    if pair is None:
        return None
    rb = pair["candidate"].get("rollback")
    return rb.get("at_ms") if rb else None


def injections(journal: dict[str, Any]) -> list[tuple[float, str]]:
    """(time, label) of the scenario's injected faults and attacks."""
    out = []
    for inj in journal["scenario"].get("document", {}).get("injections") or []:
        what = inj.get("technique") or inj.get("fault") or "injection"
        if inj.get("set"):
            what += " " + ", ".join(f"{k}:={v:g}" if isinstance(v, (int, float)) else f"{k}:={v}"
                                    for k, v in sorted(inj["set"].items()))
        out.append((float(inj.get("at", 0.0)), what))
    return out


def _series(samples: list[dict[str, Any]], step_ms: float, pru_ms: float,
            t0: float = -math.inf, t1: float = math.inf) -> dict[str, list[float]]:
    pts = [s for s in samples if t0 - 1e-6 <= s["t_ms"] <= t1 + 1e-6]
    thinned = thin(pts, step_ms)
    if pts and thinned and thinned[-1] is not pts[-1] and pts[-1]["t_ms"] - thinned[-1]["t_ms"] > step_ms / 2:
        thinned.append(pts[-1])   # keep the last partial interval when it is long enough to mean something
    return rate_series(thinned, pru_ms)


def _vline(ax, t_ms: float | None, colour: str, label: str | None, ls: str = "--", scale: float = MS_PER_H,
           lw: float = 1.4) -> None:
    if t_ms is not None:
        ax.axvline(t_ms / scale, color=colour, ls=ls, lw=lw, label=label, zorder=3)


def _shade(ax, a_ms: float, b_ms: float, colour: str, label: str | None, alpha: float = 0.18,
           scale: float = MS_PER_H) -> None:
    if b_ms > a_ms:
        ax.axvspan(a_ms / scale, b_ms / scale, color=colour, alpha=alpha, lw=0, label=label, zorder=0)


def _hm(ms: float) -> str:
    s = round(ms / 1000)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}"


# ------------------------------------------------------------------- plots
def kpi_timelines(journal: dict[str, Any], target: Path) -> Path | None:
    """Baseline against candidate, replication 0: throughput and OEE per 5-min interval."""
    pair = _pair0(journal)
    if pair is None:
        return None
    base = pair["baseline"].get("samples") or []
    cand = pair["candidate"].get("samples") or []
    if len(base) < 3 or len(cand) < 3:
        return None
    pru = _pru_ms(journal)
    sb, sc = _series(base, TIMELINE_STEP_MS, pru), _series(cand, TIMELINE_STEP_MS, pru)
    if len(sb["t_h"]) < 2 and len(sc["t_h"]) < 2:
        return None
    plan = _plan(journal)
    line = journal["line"]
    warmup = journal["run"]["warmup_ms"]
    change_at = (journal.get("change") or {}).get("at_ms", plan["change_at_ms"])
    rb = rollback_at(journal, pair)
    stopped = pair["candidate"].get("stopped_at_ms")
    end_ms = max(base[-1]["t_ms"], cand[-1]["t_ms"])

    fig, (ax1, ax2) = _figure(11, 7, rows=2)
    for i, ax in enumerate((ax1, ax2)):
        first = i == 0
        _shade(ax, 0, warmup, WARMUP_COLOUR, "warm-up" if first else None, alpha=1.0)
        if rb is not None:
            _shade(ax, rb, rb + plan["recover_ms"], RECOVER_C, "recovery allowance" if first else None, alpha=0.2)
        if change_at > 0:
            _vline(ax, change_at, CHANGE_C, f"change applied {_hm(change_at)}" if first else None)
        elif first:
            ax.plot([], [], " ", label="change in effect\nfrom 0:00 (download)")
        for at, what in injections(journal):
            _vline(ax, at, ATTACK_C, f"injection {_hm(at)}: {what}" if first else None, ls=":", lw=1.6)
        if stopped is not None:
            _vline(ax, stopped, "k", f"candidate stopped\n(safety) {_hm(stopped)}" if first else None, ls="-",
                   lw=1.0)
        _vline(ax, rb, ROLLBACK_C, f"rollback {_hm(rb)}" if (first and rb is not None) else None, lw=1.8)
        if rb is not None:
            _vline(ax, rb + plan["recover_ms"], RECOVER_C,
                   f"end of recovery allowance\n{_hm(rb + plan['recover_ms'])}" if first else None, lw=1.4)
        ax.grid(alpha=0.3)

    ax1.plot(sb["t_h"], sb["throughput_per_h"], color=BASELINE, lw=2.4, alpha=0.75, label="baseline",
             marker="o", ms=3)
    ax1.plot(sc["t_h"], sc["throughput_per_h"], color=CANDIDATE, lw=1.3, ls="--", label="candidate",
             marker="s", ms=3)
    ax1.axhline(line["ideal_rate"] * 60, color="k", ls=":", lw=1, label=f"ideal {line['ideal_rate'] * 60:,.0f}/h")
    ax1.set_ylabel("bottles per hour\n(line end)")
    top = max([line["ideal_rate"] * 60] + sb["throughput_per_h"] + sc["throughput_per_h"]) * 1.22
    ax1.set_ylim(0, top)
    _windows(ax1, plan, stopped, top)
    ax1.set_title(f"Throughput per {TIMELINE_STEP_MS / 60_000:g}-min interval, replication 0 "
                  "(same random streams in both runs)")
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)

    ax2.plot(sb["t_h"], [100 * v for v in sb["oee"]], color=BASELINE, lw=2.4, alpha=0.75, label="baseline",
             marker="o", ms=3)
    ax2.plot(sc["t_h"], [100 * v for v in sc["oee"]], color=CANDIDATE, lw=1.3, ls="--", label="candidate",
             marker="s", ms=3)
    ax2.set_ylabel(f"OEE at the {line['kpi_station']} (%)")
    top = max([100.0] + [100 * v for v in sb["oee"] + sc["oee"]])
    ax2.set_ylim(0, top * 1.08)
    ax2.set_xlabel("simulated time (h)")
    ax2.set_title(f"OEE per {TIMELINE_STEP_MS / 60_000:g}-min interval, replication 0")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax2.set_xlim(0, end_ms / MS_PER_H)
    return _save(fig, target / "kpi_timelines.png")


def _windows(ax, plan: dict[str, float], stopped: float | None, top: float) -> None:
    """Arrows over the KPI windows: window 1 (change in effect) and window 2 (after recovery)."""
    y = top * 0.92
    spans = [(plan["window_start_ms"], plan["end_ms"], "KPI window 1: change in effect"),
             (plan["end_ms"] + plan["recover_ms"], plan["end_ms"] + plan["recover_ms"] + plan["observe_ms"],
              "window 2")]
    if stopped is not None:   # the candidate never reached the planned windows
        spans = [(plan["window_start_ms"], plan["end_ms"],
                  f"planned KPI window 1 (candidate stopped at {_hm(stopped)}: not measured)")]
    for a, b, text in spans:
        ax.annotate("", xy=(a / MS_PER_H, y), xytext=(b / MS_PER_H, y),
                    arrowprops={"arrowstyle": "<->", "color": "0.35", "lw": 1})
        ax.text((a + b) / 2 / MS_PER_H, top * 0.935, text, ha="center", va="bottom", fontsize=8, color="0.25", zorder=5,
                bbox={"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 1})


def _kpi_checks_with_pairs(journal: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in journal["checks"] if c["kind"] == "kpi" and len(c.get("evidence", {}).get("pairs") or []) >= 1]


def _kpi_scale(kpi: str) -> tuple[float, str]:
    """(factor, unit) to show a KPI's level: ratios in %, rates as they are."""
    if kpi.endswith("_per_h"):
        return 1.0, "/h"
    if kpi in ("mtbf_h",):
        return 1.0, "h"
    if kpi in ("mttr_min",):
        return 1.0, "min"
    return 100.0, "%"


def tolerance_of(check: dict[str, Any], journal: dict[str, Any]) -> dict[str, Any] | None:
    """The check's tolerance from the scenario document: {vs_baseline} | {equivalence} | {low, high}."""
    kpi = check.get("evidence", {}).get("kpi")
    for k in journal["scenario"].get("document", {}).get("steady_state", {}).get("kpis") or []:
        if k.get("kpi") == kpi:
            return k.get("tolerance")
    return None


def paired_differences(journal: dict[str, Any], target: Path) -> Path | None:
    """One panel per KPI check: the per-replication values, the mean, its CI, the tolerance band."""
    from ..model.change import LOWER_IS_BETTER

    checks = _kpi_checks_with_pairs(journal)
    if not checks:
        return None
    n = len(checks)
    cols = 1 if n == 1 else 2 if n in (2, 4) else 3
    rows = math.ceil(n / cols)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6 * cols + 0.6, 3.6 * rows + 0.4), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, c in enumerate(checks):
        ax = axes[k // cols][k % cols]
        _difference_panel(ax, c, tolerance_of(c, journal), c["evidence"]["kpi"] in LOWER_IS_BETTER)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle("Paired comparison per KPI check (one dot per replication; bar = mean and its "
                 f"{_conf(checks[0]):g} % confidence interval; green = allowed by the tolerance)", fontsize=10)
    return _save(fig, target / "paired_differences.png")


def _conf(c: dict[str, Any]) -> float:
    return 100 * c.get("evidence", {}).get("confidence", 0.95)


def _difference_panel(ax, c: dict[str, Any], tol: dict[str, Any] | None, lower_better: bool) -> None:
    from ..validate.stats import interval

    ev = c["evidence"]
    kpi = ev["kpi"]
    pairs = ev["pairs"]
    conf = ev.get("confidence", 0.95)
    absolute = tol is not None and ("low" in tol or "high" in tol)
    xs = list(range(len(pairs)))
    if absolute:
        scale, unit = _kpi_scale(kpi)
        ys = [x * scale for _, x in pairs]
        bs = [b * scale for b, _ in pairs]
        iv = ev.get("candidate") or (interval([x for _, x in pairs], conf).as_dict() if len(pairs) >= 2 else None)
        mean = iv["mean"] * scale if iv else (ys[0] if ys else 0.0)
        ci = [v * scale for v in iv["ci"]] if iv else None
        lo, hi = tol.get("low"), tol.get("high")
        ylabel = f"{kpi} ({unit}), absolute level"
        for x, b, y in zip(xs, bs, ys):
            ax.plot([x - 0.15, x + 0.15], [b, y], color="0.6", lw=0.8, zorder=3)
        ax.plot([x - 0.15 for x in xs], bs, "o", mfc="white", mec=BASELINE, mew=1.5, ms=7, label="baseline",
                zorder=4)
    else:
        rel = ev.get("relative_difference")
        ys = [100 * (x - b) / b if b else float("nan") for b, x in pairs]
        if rel is None and len(pairs) >= 2:
            vals = [(x - b) / b for b, x in pairs if b]
            rel = interval(vals, conf).as_dict() if len(vals) >= 2 else None
        mean = 100 * rel["mean"] if rel else (ys[0] if ys else 0.0)
        ci = [100 * v for v in rel["ci"]] if rel else None
        if tol is not None and "equivalence" in tol:
            lo, hi = -100 * tol["equivalence"], 100 * tol["equivalence"]
        elif tol is not None and "vs_baseline" in tol:
            t = 100 * tol["vs_baseline"]
            lo, hi = (None, t) if lower_better else (t, None)
        else:
            lo = hi = None
        ylabel = "candidate vs baseline (%)"
        ax.axhline(0, color="0.4", lw=0.8, zorder=1)
    # y range: the points, the interval, the bounds (and zero for differences), with some room
    vals = [v for v in ys + ([mean] + (ci or [])) + (bs if absolute else []) if v == v]
    vals += [v for v in (lo, hi) if v is not None]
    if not absolute:
        vals.append(0.0)
    ymin, ymax = min(vals), max(vals)
    span = ymax - ymin
    pad = 0.15 * span if span > 0 else max(abs(ymax) * 0.05, 0.5)
    ymin, ymax = ymin - pad, ymax + pad
    ax.set_ylim(ymin, ymax)
    # shade allowed (green) and not allowed (red) regions
    a, b = (lo if lo is not None else ymin), (hi if hi is not None else ymax)
    ax.axhspan(a, b, color="#2ca02c", alpha=0.12, lw=0, zorder=0)
    xm = len(pairs) + 0.6
    for bound, is_low in ((lo, True), (hi, False)):
        if bound is None:
            continue
        ax.axhspan(*((ymin, bound) if is_low else (bound, ymax)), color="#d62728", alpha=0.08, lw=0, zorder=0)
        ax.axhline(bound, color="#2ca02c", lw=1.2, ls="--", zorder=2)
        text = (f"{'lower' if is_low else 'upper'} bound {bound:,.6g}" if absolute
                else f"tolerance {bound:+g} %")
        ax.text(xm + 0.65, bound, text + " ", fontsize=7, color="#1b7a1b", ha="right",
                va="bottom" if is_low else "top")
    ax.plot([x + (0.15 if absolute else 0) for x in xs], ys, "o", color=CANDIDATE if absolute else "k", ms=6,
            label="candidate" if absolute else "replication", zorder=5)
    if not absolute and ys and all(y == 0 for y in ys):
        ax.text(0.5, 0.5, "identical in every replication\n(candidate = baseline)", transform=ax.transAxes,
                ha="center", va="center", fontsize=8, color="0.3")
    if ci is not None:
        ax.errorbar([xm], [mean], yerr=[[mean - ci[0]], [ci[1] - mean]], fmt="D", color=CHANGE_C, ms=7,
                    capsize=6, lw=2, zorder=6)
    else:
        ax.plot([xm], [mean], "D", color=CHANGE_C, ms=7, zorder=6)
    ax.set_xticks(xs + [xm], [str(x) for x in xs] + ["mean\n± CI"])
    ax.set_xlim(-0.6, xm + 0.7)
    ax.set_xlabel("replication")
    ax.set_ylabel(ylabel, fontsize=9)
    status = c["status"]
    phase = ev.get("phase", "")
    title = f"{phase}: {kpi}\n{ev.get('tolerance', '')} → {status}"
    ax.set_title(title, fontsize=9, color=STATUS_COLOURS.get(status, "k"), fontweight="bold")
    ax.grid(alpha=0.3)
    if absolute:
        ax.legend(loc="best", fontsize=7, framealpha=0.9)


# ----------------------------------------------------------- counterexample
def first_violation(journal: dict[str, Any]) -> tuple[int, dict[str, Any], str] | None:
    """(replication, violation, when) of the violation to show: the candidate's first, else one after
    rollback, else the baseline's."""
    for key, when, side in (("violations", "candidate", "candidate"),
                            ("violations_after_rollback", "after rollback", "candidate"),
                            ("violations", "baseline", "baseline")):
        hits = [(v["t_ms"], p["replication"], v) for p in journal.get("pairs") or [] for v in p[side].get(key) or []]
        if hits:
            # replication 0 first (it has the samples), then the earliest
            hits.sort(key=lambda h: (h[1] != 0, h[0]))
            _, r, v = hits[0]
            return r, v, when
    return None


def _sample_value(sample: dict[str, Any], signal: str) -> Any:
    path = SAMPLE_KEYS.get(signal)
    if not path:
        return None
    v: Any = sample
    for p in path:
        if not isinstance(v, dict) or p not in v:
            return None
        v = v[p]
    return v


def signal_history(trace: list[dict[str, Any]], signal: str, t0: float, t1: float,
                   samples: list[dict[str, Any]]) -> tuple[Any, list[tuple[float, Any]], float | None]:
    """(value at t0, changes in the trace, time of the sample the value at t0 comes from).

    A boolean that changed was the opposite before its first change (exact: sample time None).
    A signal that did not change in the trace window held one value throughout: it is read from a
    sample inside the window when there is one (exact), else from the last sample before it (the time
    of that sample is returned: the value may have changed between that sample and the window).
    An analog signal that changed starts at its first recorded value (None before it).
    """
    changes = [(e["t_ms"], e["value"]) for e in trace if e["signal"] == signal]
    if changes:
        first = changes[0][1]
        return ((not first) if isinstance(first, bool) else None), changes, None
    inside = [s for s in samples if t0 - 1e-6 <= s["t_ms"] <= t1 + 1e-6]
    if inside and _sample_value(inside[-1], signal) is not None:
        return _sample_value(inside[-1], signal), [], None
    before = [s for s in samples if s["t_ms"] < t0]
    if before and _sample_value(before[-1], signal) is not None:
        return _sample_value(before[-1], signal), [], before[-1]["t_ms"]
    return None, [], None


def _lanes(invariant: str, trace: list[dict[str, Any]]) -> list[str]:
    wanted = INVARIANT_SIGNALS.get(invariant, [])
    seen = {e["signal"] for e in trace}
    lanes = [s for s in wanted if s in seen or s in SAMPLE_KEYS]
    if len(lanes) < 2:   # unknown invariant: the signals that changed least often are the telling ones
        counts: dict[str, int] = {}
        for e in trace:
            counts[e["signal"]] = counts.get(e["signal"], 0) + 1
        lanes += [s for s, _ in sorted(counts.items(), key=lambda kv: kv[1]) if s not in lanes]
    return lanes[:MAX_LANES]


def counterexample(journal: dict[str, Any], target: Path) -> Path | None:
    """The relevant signals in the 10 s before the first safety violation, the violation marked;
    for a tank overflow also the tank level of both runs over the minutes before it."""
    found = first_violation(journal)
    if found is None:
        return None
    r, v, when = found
    pair = next(p for p in journal["pairs"] if p["replication"] == r)
    side = "baseline" if when == "baseline" else "candidate"
    samples = pair[side].get("samples") or []
    trace = v.get("trace") or []
    t_v = v["t_ms"]
    t0 = min([e["t_ms"] for e in trace] + [t_v - 10_000.0])
    lanes = _lanes(v["invariant"], trace)
    analog = [s for s in lanes if _is_analog(s, trace, samples, t0, t_v)]
    digital = [s for s in lanes if s not in analog]
    context = v["invariant"] == "tank_no_overflow" and len(samples) > 2
    heights = ([2.2] if context else []) + ([1.6] if analog else []) + ([0.42 * max(1, len(digital)) + 0.3]
                                                                       if digital else [])
    if not heights:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 1.3 + sum(heights) * 1.25), dpi=DPI, layout="constrained")
    axes = list(fig.subplots(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0])
    rel = lambda t: (t - t_v) / 1000.0  # noqa: E731 - seconds relative to the violation
    where = f"replication {r}, {when} run" if when != "after rollback" else f"replication {r}, after rollback"
    fig.suptitle(f"Counterexample: {v['invariant']} broken at {_hms3(t_v)} ({where})", fontsize=11,
                 fontweight="bold", color=CANDIDATE)
    k = 0
    if context:
        ax = axes[k]
        k += 1
        _tank_context(ax, journal, pair, t_v, side)
    if analog:
        ax = axes[k]
        k += 1
        for i, sig in enumerate(analog):
            start, changes, _ = signal_history(trace, sig, t0, t_v, samples)
            pts = ([(t0, start)] if start is not None else []) + [(t, float(x)) for t, x in changes]
            if not pts:
                continue
            ts = [rel(t) for t, _ in pts] + [0.0]
            ys = [float(y) for _, y in pts] + [float(pts[-1][1])]
            ax.step(ts, ys, where="post", color=f"C{i}", lw=1.6, label=sig)
        if v["invariant"] == "tank_no_overflow":
            ax.axhline(100, color=CANDIDATE, ls="--", lw=1, label="full (100 %): overflow above")
            if "level_pct" in v:
                ax.plot([0], [v["level_pct"]], "X", color=CANDIDATE, ms=10, zorder=6,
                        label=f"overflow: {v['level_pct']:g} %")
        ax.axvline(0, color=CANDIDATE, lw=2)
        ax.set_ylabel("value", fontsize=9)
        ax.set_title("Analog signals in the trace window (steps at each recorded change)", fontsize=9)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_xlim(rel(t0), 0.09 * -rel(t0))
        _tidy_ylim(ax)
    if digital:
        ax = axes[k]
        for i, sig in enumerate(digital):
            base = len(digital) - 1 - i
            start, changes, sampled_at = signal_history(trace, sig, t0, t_v, samples)
            colour = f"C{(i + len(analog)) % 10}"
            if start is None and not changes:
                ax.text(rel(t0) + 0.1, base + 0.35, "no change in the window, state not recorded", fontsize=7,
                        va="center", color="0.4")
                continue
            pts = ([(t0, bool(start))] if start is not None else []) + [(t, bool(x)) for t, x in changes]
            ts = [rel(t) for t, _ in pts] + [0.0]
            ys = [base + (0.75 if on else 0.0) for _, on in pts] + [base + (0.75 if pts[-1][1] else 0.0)]
            ax.step(ts, ys, where="post", color=colour, lw=1.1)
            ax.fill_between(ts, base, ys, step="post", color=colour, alpha=0.35, lw=0)
            # the state at the violation, right of the line: a change just before it is a thin sliver
            ax.text(0.01 * -rel(t0), base + 0.375, "TRUE" if pts[-1][1] else "FALSE", fontsize=7, va="center",
                    ha="left", color=colour, fontweight="bold")
            if not changes:
                note = f"{'TRUE' if start else 'FALSE'}: no change in the window"
                if sampled_at is not None:
                    note += f" (value sampled at {_hms3(sampled_at)}, {(t0 - sampled_at) / 1000:.0f} s before it)"
                ax.text(rel(t0) + 0.1, base + 0.375, note, fontsize=7, va="center", color="0.15",
                        bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1})
        ax.set_yticks([len(digital) - 1 - i + 0.375 for i in range(len(digital))], digital, fontsize=8)
        ax.set_ylim(-0.2, len(digital) - 0.1)
        ax.axvline(0, color=CANDIDATE, lw=2)
        ax.set_title("Boolean signals in the trace window (raised = TRUE; red line = violation)", fontsize=9)
        ax.set_xlim(rel(t0), 0.09 * -rel(t0))
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("seconds before the violation (0 = violation)")
    return _save(fig, target / "counterexample.png")


def _is_analog(sig: str, trace: list[dict[str, Any]], samples: list[dict[str, Any]], t0: float, t1: float) -> bool:
    start, changes, _ = signal_history(trace, sig, t0, t1, samples)
    vals = [start] + [x for _, x in changes]
    return any(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vals if x is not None)


def _tidy_ylim(ax) -> None:
    lo, hi = ax.get_ylim()
    if hi - lo < 1.0:
        mid = (lo + hi) / 2
        ax.set_ylim(mid - 0.5, mid + 0.5)


def _hms3(ms: float) -> str:
    from .markdown import hms

    return hms(ms, 1)


def _tank_context(ax, journal: dict[str, Any], pair: dict[str, Any], t_v: float, side: str) -> None:
    """Tank level of both runs over the 20 minutes before the violation, a few minutes after."""
    lo, hi = t_v - 1_200_000.0, t_v + 300_000.0
    for name, colour, lw, ls in (("baseline", BASELINE, 2.2, "-"), ("candidate", CANDIDATE, 1.4, "--")):
        pts = [s for s in pair[name].get("samples") or [] if lo <= s["t_ms"] <= hi and "tank" in s]
        if len(pts) < 2:
            continue
        ax.plot([(s["t_ms"] - t_v) / 60_000 for s in pts], [s["tank"]["level"] for s in pts], color=colour, lw=lw,
                ls=ls, label=f"{name} tank level", marker="." if len(pts) < 60 else None)
    ax.axhline(100, color=CANDIDATE, ls=":", lw=1, label="full (100 %)")
    for at, what in injections(journal):
        if lo <= at <= hi:
            ax.axvline((at - t_v) / 60_000, color=ATTACK_C, ls=":", lw=1.6, label=f"injection: {what}")
    ax.axvline(0, color=CANDIDATE, lw=2, label="violation")
    rb = pair["candidate"].get("rollback")
    if rb and lo <= rb["at_ms"] <= hi:
        ax.axvline((rb["at_ms"] - t_v) / 60_000, color=ROLLBACK_C, ls="--", lw=1.4, label="rollback")
    ax.set_xlim(-20, 5)
    ax.set_ylim(0, 112)
    ax.set_ylabel("tank level (%)", fontsize=9)
    ax.set_xlabel("minutes relative to the violation (samples: every second in the first hour, then "
                  f"every {journal['scenario'].get('document', {}).get('run', {}).get('sample', 60_000) / 1000:g} s)",
                  fontsize=8)
    ax.set_title("Context: product tank level of both runs (same random streams)", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(alpha=0.3)


# --------------------------------------------------------------- recovery
def rollback_recovery(journal: dict[str, Any], target: Path) -> Path | None:
    """Throughput of both runs from 30 min before the rollback to the end of the run (replication 0)."""
    pair = _pair0(journal)
    rb = rollback_at(journal, pair)
    if pair is None or rb is None:
        return None
    base = pair["baseline"].get("samples") or []
    cand = pair["candidate"].get("samples") or []
    if len(cand) < 3:
        return None
    plan = _plan(journal)
    pru = _pru_ms(journal)
    t0 = max(0.0, rb - RECOVERY_BEFORE_MS)
    t1 = cand[-1]["t_ms"]
    sb = _series(base, RECOVERY_STEP_MS, pru, t0, t1)
    sc = _series(cand, RECOVERY_STEP_MS, pru, t0, t1)
    if len(sc["t_h"]) < 2:
        return None
    line = journal["line"]
    fig, (ax1, ax2) = _figure(11, 6.2, rows=2, height_ratios=[2, 1.2])
    rel = lambda t_h: (t_h * MS_PER_H - rb) / 60_000  # noqa: E731 - minutes relative to the rollback
    rec = plan["recover_ms"] / 60_000
    obs_end = (t1 - rb) / 60_000
    for i, ax in enumerate((ax1, ax2)):
        first = i == 0
        ax.axvspan(0, rec, color=RECOVER_C, alpha=0.2, lw=0,
                   label=f"recovery allowance ({rec:g} min)" if first else None)
        if obs_end > rec:
            ax.axvspan(rec, obs_end, color=ROLLBACK_C, alpha=0.07, lw=0,
                       label="steady state after rollback\n(KPI window 2)" if first else None)
        ax.axvline(0, color=ROLLBACK_C, lw=2, label=f"rollback at {_hm(rb)}" if first else None)
        ax.axvline(rec, color=RECOVER_C, lw=1.4, ls="--",
                   label=f"end of recovery allowance {_hm(rb + plan['recover_ms'])}" if first else None)
        stopped = pair["candidate"].get("stopped_at_ms")
        if stopped is not None and t0 <= stopped <= t1 and abs(stopped - rb) > 1:
            ax.axvline(rel(stopped / MS_PER_H), color="k", lw=1, label="candidate stopped" if first else None)
        ax.grid(alpha=0.3)
    ax1.plot([rel(t) for t in sb["t_h"]], sb["throughput_per_h"], color=BASELINE, lw=2.4, alpha=0.75,
             marker="o", ms=3, label="baseline")
    ax1.plot([rel(t) for t in sc["t_h"]], sc["throughput_per_h"], color=CANDIDATE, lw=1.3, ls="--",
             marker="s", ms=3, label="candidate (rolled back at 0)")
    ax1.axhline(line["ideal_rate"] * 60, color="k", ls=":", lw=1, label=f"ideal {line['ideal_rate'] * 60:,.0f}/h")
    ax1.set_ylim(0, max([line["ideal_rate"] * 60] + sb["throughput_per_h"] + sc["throughput_per_h"]) * 1.08)
    ax1.set_ylabel("bottles per hour\n(line end)")
    ax1.set_title(f"Rollback and recovery, replication 0: throughput per {RECOVERY_STEP_MS / 60_000:g}-min "
                  "interval")
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)

    # cumulative bottles: candidate minus baseline, from t0; flat after rollback = same rate again
    def packed_at(samples: list[dict[str, Any]], t: float) -> float | None:
        before = [s for s in samples if s["t_ms"] <= t + 1e-6]
        return float(before[-1]["packed"] + before[-1]["rejected"]) if before else None

    pts = [s for s in thin([s for s in cand if t0 <= s["t_ms"] <= t1], 60_000.0)]
    b0, c0 = packed_at(base, t0), packed_at(cand, t0)
    xs, ys = [], []
    for s in pts:
        pb = packed_at(base, s["t_ms"])
        if pb is None or b0 is None or c0 is None:
            continue
        xs.append((s["t_ms"] - rb) / 60_000)
        ys.append((s["packed"] + s["rejected"] - c0) - (pb - b0))
    ax2.axhline(0, color="0.4", lw=0.8)
    ax2.plot(xs, ys, color=CHANGE_C, lw=1.6, label="candidate − baseline")
    ax2.set_ylabel("bottles, cumulative\n(candidate − baseline)", fontsize=9)
    ax2.set_xlabel("minutes relative to the rollback")
    ax2.set_title(f"Bottles out of the line since {_hm(t0)}, candidate minus baseline "
                  "(a flat line = the same rate again)", fontsize=9)
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    lo_y, hi_y = min(ys + [0.0]), max(ys + [0.0])
    if hi_y - lo_y < 20:      # identical runs: a flat zero line, not an axis of hundredths of a bottle
        ax2.set_ylim(lo_y - 10, hi_y + 10)
    ax2.set_xlim((t0 - rb) / 60_000, obs_end)
    return _save(fig, target / "rollback_recovery.png")


# the report's plots, keyed by the section that shows them
PLOTS = {
    "timelines": kpi_timelines,
    "differences": paired_differences,
    "counterexample": counterexample,
    "recovery": rollback_recovery,
}


def make_all(journal: dict[str, Any], target: Path) -> dict[str, Path]:
    """Write every plot that has data; return {key: path}."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, fn in PLOTS.items():
        path = fn(journal, target)
        if path is not None:
            out[key] = path
    return out
