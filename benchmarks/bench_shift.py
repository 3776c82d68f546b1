"""One 8-hour shift of the reference line in virtual time: speed-up over real time.

Runs the baseline scenario twice in one process, side by side: with exact
idle-scan skipping (the default) and in naive lockstep (every PLC scans every
10 ms). Prints wall times, speed-ups over real time, the ratio between the
two, the share of wall time spent in PLC scans (with their I/O copy) against
the line model, and whether the two journals are byte-identical.

Goals (issue 3): >= 500x real time; project goal >= 9,600x (8 h in 3 s).

    .venv/bin/python benchmarks/bench_shift.py [--hours 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twin.api import load  # noqa: E402
from twin.engine import virtual  # noqa: E402
from twin.engine.loading import canonical_json  # noqa: E402


def one(loaded, skip: bool):
    t0 = time.perf_counter()
    twin = virtual.build(loaded, 0, skip_idle_scans=skip)
    virtual.run(twin, loaded.scenario.run.duration)
    wall = time.perf_counter() - t0
    summary = canonical_json(virtual.summarise(loaded, twin, 0, None, True))
    plc_s = sum(d.busy_ns for d in twin.drivers.values()) / 1e9
    scans = sum(d.executed for d in twin.drivers.values())
    return wall, plc_s, scans, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=8.0)
    args = ap.parse_args()
    loaded = load(Path(__file__).resolve().parent.parent / "scenarios/bottling/baseline.yaml")
    sc = loaded.scenario
    loaded.scenario = sc.model_copy(update={"run": sc.run.model_copy(update={"duration": args.hours * 3_600_000})})
    sim_s = args.hours * 3600
    rows = {}
    for name, skip in (("skipping", True), ("lockstep", False)):
        rows[name] = one(loaded, skip)
        wall, plc_s, scans, _ = rows[name]
        print(f"{name:>9}: {wall:6.2f} s wall, {sim_s / wall:8,.0f}x real time, {scans:>10,} scans executed, "
              f"PLC scans {100 * plc_s / wall:4.1f} % / line model and kernel {100 * (1 - plc_s / wall):4.1f} %")
    ratio = rows["lockstep"][0] / rows["skipping"][0]
    same = rows["skipping"][3] == rows["lockstep"][3]
    print(f"skipping is {ratio:.2f}x faster than lockstep; journals byte-identical: {same}")
    print(f"goal >= 500x: {'met' if sim_s / rows['skipping'][0] >= 500 else 'NOT met'}; "
          f"goal >= 9,600x: {'met' if sim_s / rows['skipping'][0] >= 9600 else 'not met'}")


if __name__ == "__main__":
    main()
