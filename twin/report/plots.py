"""Plots for the run report (matplotlib, Agg backend).

matplotlib is imported inside the functions, never at module level, so that
importing `twin` (and its CLI) stays fast. Each plot function takes the
journal and a target directory, writes one PNG and returns its path, or
returns None when the journal holds no data for that plot.

Times in the journal are milliseconds of simulated time; the plots show hours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MS_PER_H = 3_600_000.0
RATE_STEP_MS = 60_000.0   # rates over at least one minute (the first hour is sampled every second)
FIRST_HOUR_MS = 3_600_000.0
DPI = 110

STATE_COLOURS = {
    "EXECUTE": "#2ca02c",   # green
    "STARVED": "#f2c80f",   # yellow
    "BLOCKED": "#ff7f0e",   # orange
    "HELD": "#d62728",      # red
    "STOPPED": "#8c8c8c",   # grey
}
WARMUP_COLOUR = "0.88"
FILL_WINDOW = 30          # samples (seconds in the first hour) for the fill valve's share open


# ----------------------------------------------------------------- helpers
def _figure(width: float = 10.0, height: float = 4.0, rows: int = 1, **kw: Any):
    """A new figure (not registered with pyplot) and its axes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, **kw)
    return fig, axes


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def _shade_warmup(ax, warmup_ms: float, label: bool = True) -> None:
    if warmup_ms > 0:
        ax.axvspan(0, warmup_ms / MS_PER_H, color=WARMUP_COLOUR, zorder=0, label="warm-up" if label else None)


def _end_h(journal: dict[str, Any]) -> float:
    return max(journal["run"]["duration_ms"], _rep0(journal).get("end_ms", 0.0)) / MS_PER_H


def _resolution(journal: dict[str, Any]) -> str:
    step = max(journal["run"]["sample_ms"], RATE_STEP_MS) / 60_000
    return "per minute" if step == 1 else f"per minute in the first hour, then per {step:g} min"


def _first_hour(end_ms: float) -> str:
    return "first hour" if end_ms >= FIRST_HOUR_MS - 1000.0 else "whole run"


def _every(ms: float) -> str:
    if ms == 60_000:
        return "every minute"
    return f"every {ms / 60_000:g} min" if ms >= 60_000 else f"every {ms / 1000:g} s"


def _rep0(journal: dict[str, Any]) -> dict[str, Any]:
    return journal["replications"][0]


def thin(samples: list[dict[str, Any]], step_ms: float = RATE_STEP_MS) -> list[dict[str, Any]]:
    """Keep samples at least `step_ms` apart: per minute in the 1-s first hour, every sample after."""
    out: list[dict[str, Any]] = []
    for s in samples:
        if not out or s["t_ms"] - out[-1]["t_ms"] >= step_ms - 1e-6:
            out.append(s)
    return out


def rate_series(samples: list[dict[str, Any]], pru_ms: float) -> dict[str, list[float]]:
    """Per-interval rates from the cumulative counts and the filler's cumulative time elements.

    Same definitions as the KPIs (twin.line.kpis), applied to each interval:
    availability = APT/PBT, effectiveness = PRU*PQ(filler)/APT, quality = GQ/PQ(line end).
    Returns interval mid-points in hours and the rates (throughput in bottles per hour, the rest 0..1).
    """
    pts = thin(samples)
    out: dict[str, list[float]] = {"t_h": [], "throughput_per_h": [], "good_per_h": [], "availability": [],
                                   "oee": []}
    for a, b in zip(pts, pts[1:]):
        dt = b["t_ms"] - a["t_ms"]
        if dt <= 0:
            continue
        ka, kb = a["kpi_states"], b["kpi_states"]
        apt = (kb["execute"] + kb["held_microstop"]) - (ka["execute"] + ka["held_microstop"])
        pq_line = (b["packed"] + b["rejected"]) - (a["packed"] + a["rejected"])
        gq = b["packed_good"] - a["packed_good"]
        produced = b["produced"] - a["produced"]
        availability = apt / dt
        effectiveness = pru_ms * produced / apt if apt > 0 else 0.0
        quality = gq / pq_line if pq_line > 0 else 1.0
        out["t_h"].append((a["t_ms"] + dt / 2) / MS_PER_H)
        out["throughput_per_h"].append(pq_line * MS_PER_H / dt)
        out["good_per_h"].append(gq * MS_PER_H / dt)
        out["availability"].append(availability)
        out["oee"].append(availability * effectiveness * quality)
    return out


def _sliding_share(flags: list[bool], window: int) -> list[float]:
    """Trailing share of True over the last `window` entries."""
    out, acc = [], 0
    for i, f in enumerate(flags):
        acc += f
        if i >= window:
            acc -= flags[i - window]
        out.append(acc / min(i + 1, window))
    return out


# ------------------------------------------------------------------- plots
def throughput_oee(journal: dict[str, Any], target: Path) -> Path | None:
    """Throughput and OEE over time (replication 0), warm-up shaded."""
    rep = _rep0(journal)
    line = journal["line"]
    pru_ms = 60_000.0 / line["ideal_rate"]
    s = rate_series(rep.get("samples") or [], pru_ms)
    if len(s["t_h"]) < 2:
        return None
    warmup = journal["run"]["warmup_ms"]
    fig, (ax1, ax2) = _figure(10, 6.5, rows=2)
    _shade_warmup(ax1, warmup)
    ax1.plot(s["t_h"], s["throughput_per_h"], color="#1f77b4", lw=1, label="PQ at line end")
    ax1.axhline(line["ideal_rate"] * 60, color="k", ls=":", lw=1.2,
                label=f"ideal rate\n{line['ideal_rate'] * 60:,.0f}/h")
    mean_tp = rep["kpis"].get("throughput_per_h")
    if mean_tp is not None:
        ax1.axhline(mean_tp, color="#ff7f0e", ls="--", lw=1.5, label=f"measured mean\n{mean_tp:,.0f}/h")
    ax1.set_ylabel("bottles per hour")
    ax1.set_title(f"Throughput at the line end, replication 0 ({_resolution(journal)})")
    ax1.set_ylim(bottom=0)
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax1.grid(alpha=0.3)

    _shade_warmup(ax2, warmup, label=False)
    ax2.fill_between(s["t_h"], [100 * v for v in s["availability"]], color="#9467bd", alpha=0.25, lw=0,
                     label="availability\n(APT/PBT)")
    ax2.plot(s["t_h"], [100 * v for v in s["oee"]], color="#d62728", lw=1, label="OEE")
    mean_oee = rep["kpis"].get("oee")
    if mean_oee is not None:
        ax2.axhline(100 * mean_oee, color="#ff7f0e", ls="--", lw=1.5, label=f"measured OEE\n{100 * mean_oee:.1f} %")
    ax2.set_ylabel("%")
    ax2.set_ylim(0, 110)
    ax2.set_xlabel("simulated time (h)")
    ax2.set_title(f"OEE and availability at the {line['kpi_station']} (constraint), same intervals")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax2.grid(alpha=0.3)
    ax2.set_xlim(0, _end_h(journal))
    return _save(fig, target / "throughput_oee.png")


def gantt(journal: dict[str, Any], target: Path) -> Path | None:
    """Station states in the first hour (replication 0), one row per station in flow order."""
    from matplotlib.patches import Patch

    runs = _rep0(journal).get("gantt") or {}
    stations = [n for n in journal["line"]["flow"] if n in runs] + [n for n in runs if n not in journal["line"]["flow"]]
    if not stations:
        return None
    fig, ax = _figure(10, 1.5 + 0.55 * len(stations))
    end_ms = 0.0
    for row, name in enumerate(stations):
        y = len(stations) - 1 - row   # first station on top
        by_state: dict[str, list[tuple[float, float]]] = {}
        for start, stop, state in runs[name]:
            by_state.setdefault(state, []).append((start / MS_PER_H, (stop - start) / MS_PER_H))
            end_ms = max(end_ms, stop)
        for state, bars in by_state.items():
            ax.broken_barh(bars, (y - 0.4, 0.8), facecolors=STATE_COLOURS.get(state, "black"), linewidth=0)
    warmup = journal["run"]["warmup_ms"]
    if 0 < warmup < end_ms:
        ax.axvline(warmup / MS_PER_H, color="k", ls="--", lw=1)
        ax.text(warmup / MS_PER_H, len(stations) - 0.45, " end of warm-up", fontsize=8, va="bottom")
    ax.set_yticks(range(len(stations)), list(reversed(stations)))
    ax.set_ylim(-0.6, len(stations) - 0.4 + 0.35)
    ax.set_xlim(0, end_ms / MS_PER_H)
    ax.set_xlabel("simulated time (h)")
    ax.set_title(f"Station states, {_first_hour(end_ms)} (replication 0, 1-s bins)")
    handles = [Patch(color=c, label=s) for s, c in STATE_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, target / "gantt.png")


def tank(journal: dict[str, Any], target: Path) -> Path | None:
    """Tank level with pump, inlet valve and fill valve states, first hour (replication 0)."""
    samples = [s for s in _rep0(journal).get("samples") or [] if "tank" in s and s["t_ms"] <= FIRST_HOUR_MS]
    if len(samples) < 2:
        return None
    t = [s["t_ms"] / MS_PER_H for s in samples]
    fig, (ax1, ax2) = _figure(10, 5.5, rows=2, height_ratios=[2.2, 1])
    _shade_warmup(ax1, journal["run"]["warmup_ms"])
    ax1.plot(t, [s["tank"]["level"] for s in samples], color="#1f77b4", lw=1.2, label="level")
    ax1.axhline(100, color="#d62728", ls="--", lw=1, label="full (overflow above)")
    ax1.set_ylim(0, 110)
    ax1.set_ylabel("tank level (%)")
    ax1.set_title(f"Product tank, {_first_hour(samples[-1]['t_ms'])} (replication 0, sampled every second)")
    ax1.legend(loc="lower left", fontsize=8, ncols=3, framealpha=0.9)
    ax1.grid(alpha=0.3)

    lanes = [("pump", "inlet pump", "#1f77b4"), ("valve", "inlet valve", "#17becf")]
    for i, (key, _label, colour) in enumerate(lanes):
        base = 2 - i
        ys = [base + (0.75 if s["tank"][key] else 0.0) for s in samples]
        ax2.step(t, ys, where="post", color=colour, lw=1)
        ax2.fill_between(t, base, ys, step="post", color=colour, alpha=0.35, lw=0)
    # the fill valve opens once per bottle (about 3 times a second): 1-s samples alias, so show the
    # share of samples with the valve open over a sliding window instead of the raw state
    share = _sliding_share([bool(s["tank"]["fill"]) for s in samples], FILL_WINDOW)
    ax2.step(t, [0.75 * v for v in share], where="post", color="#ff7f0e", lw=1)
    ax2.fill_between(t, 0, [0.75 * v for v in share], step="post", color="#ff7f0e", alpha=0.35, lw=0)
    labels = ["fill valve\n(share open)", "inlet valve", "inlet pump"]
    ax2.set_yticks([0.375, 1.375, 2.375], labels)
    ax2.set_ylim(-0.2, 2.9)
    ax2.set_xlabel("simulated time (h)")
    ax2.set_title(f"Actuators (raised = on; fill valve: share of 1-s samples open over {FILL_WINDOW} s)",
                  fontsize=9)
    ax2.set_xlim(0, t[-1])
    ax2.grid(axis="x", alpha=0.3)
    return _save(fig, target / "tank.png")


def buffers(journal: dict[str, Any], target: Path) -> Path | None:
    """Buffer (accumulation conveyor) levels over the run (replication 0)."""
    samples = _rep0(journal).get("samples") or []
    if len(samples) < 2:
        return None
    caps = {n: b.get("capacity") for n, b in journal["line"].get("buffers", {}).items()}
    names = [n for n in journal["line"]["flow"] if n in samples[0]["buffers"]]
    names += [n for n in samples[0]["buffers"] if n not in names]
    t = [s["t_ms"] / MS_PER_H for s in samples]
    # small buffers would be flat lines at the bottom next to long conveyors: give them their own panel
    top = max((c or 0) for c in caps.values()) if caps else 0
    small = [n for n in names if caps.get(n) is not None and caps[n] <= top / 4]
    groups = [[n for n in names if n not in small], small] if small and len(small) < len(names) else [names]
    fig, axes = _figure(10, 4.5 if len(groups) == 1 else 6, rows=len(groups),
                        **({"height_ratios": [2, 1]} if len(groups) == 2 else {}))
    axes = list(axes) if len(groups) == 2 else [axes]
    for i, (ax, group) in enumerate(zip(axes, groups)):
        _shade_warmup(ax, journal["run"]["warmup_ms"], label=(i == 0))
        for name in group:
            cap = caps.get(name)
            label = f"{name} (capacity {cap})" if cap is not None else name
            ax.step(t, [s["buffers"][name] for s in samples], where="post", lw=0.9, label=label,
                    color=f"C{names.index(name) % 10}")
        ax.set_ylabel("bottles in buffer")
        ax.set_ylim(0, max([caps.get(n) or 0 for n in group] + [1]) * 1.08)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("simulated time (h)")
    axes[-1].set_xlim(0, _end_h(journal))
    axes[0].set_title(f"Buffer levels, replication 0 (sampled every second in the first hour, then "
                      f"{_every(journal['run']['sample_ms'])})")
    return _save(fig, target / "buffers.png")


def replications_oee(journal: dict[str, Any], target: Path) -> Path | None:
    """OEE per replication with the mean and the confidence interval (only with >1 replication)."""
    reps = journal["replications"]
    if len(reps) < 2:
        return None
    xs = [r["replication"] for r in reps]
    ys = [100 * r["kpis"]["oee"] for r in reps]
    s = journal["summary"]["oee"]
    fig, ax = _figure(10, 4)
    if s.get("ci"):
        conf = 100 * s.get("confidence", 0.95)
        ax.axhspan(100 * s["ci"][0], 100 * s["ci"][1], color="#1f77b4", alpha=0.15,
                   label=f"{conf:g} % confidence interval {100 * s['ci'][0]:.1f}–{100 * s['ci'][1]:.1f} %")
    ax.axhline(100 * s["mean"], color="#1f77b4", lw=1.5, label=f"mean {100 * s['mean']:.1f} %")
    ax.plot(xs, ys, "o", color="#d62728", ms=7, label="replication")
    if len(xs) <= 30:
        ax.set_xticks(xs)
    ax.set_xlabel("replication")
    ax.set_ylabel("OEE (%)")
    lo = min(ys + [100 * s["ci"][0] if s.get("ci") else 100])
    hi = max(ys + [100 * s["ci"][1] if s.get("ci") else 0])
    pad = max(2.0, 0.15 * (hi - lo))
    ax.set_ylim(max(0, lo - pad), hi + pad)
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_title(f"OEE per replication ({len(reps)} replications, measured after warm-up)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, target / "replications_oee.png")


# the report's plots, in order, with captions
PLOTS = [
    (throughput_oee, "Throughput and OEE over time"),
    (gantt, "Station states, first hour"),
    (tank, "Tank level and valves, first hour"),
    (buffers, "Buffer levels"),
    (replications_oee, "OEE per replication"),
]


def make_all(journal: dict[str, Any], target: Path) -> list[tuple[Path, str]]:
    """Write every plot that has data; return (path, caption) pairs."""
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for fn, caption in PLOTS:
        path = fn(journal, target)
        if path is not None:
            out.append((path, caption))
    return out
