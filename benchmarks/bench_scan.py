"""Scan throughput: compiled ST vs a hand-written Python function with the same logic.

Both run the same input sequence on the same virtual clock, side by side in
one process; the script checks that they end in the same state (so the
comparison is of equal work) and prints scans/s and the ratio.
Goal (issue 2): compiled ST costs at most 3x the hand-written Python.

    .venv/bin/python benchmarks/bench_scan.py [--scans 200000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plcsim.runtime import Plc  # noqa: E402


class Ton:
    __slots__ = ("q", "et", "running", "start")

    def __init__(self):
        self.q, self.et, self.running, self.start = False, 0, False, 0

    def __call__(self, now, inp, pt):
        if inp:
            if not self.running:
                self.running, self.start = True, now
            et = now - self.start
            self.q, self.et = (True, pt) if et >= pt else (False, et)
        else:
            self.running, self.q, self.et = False, False, 0


class HandWritten:
    """The reference program as a Python programmer would write it."""

    def __init__(self):
        self.start_pb = self.stop_pb = self.estop = self.bottle_present = False
        self.level_raw = 0
        self.valve = self.pump = self.conveyor = self.alarm = False
        self.fill_count = 0
        self.level = 0.0
        self.level_hi_sp, self.level_lo_sp, self.level_hh = 80.0, 40.0, 95.0
        self.running = False
        self.state = 0
        self.fill_timer, self.settle_timer, self.alarm_timer = Ton(), Ton(), Ton()
        self.fill_time = 300
        self.rejects = 0
        self.avg_level = 0.0
        self.samples = 0
        self.hh_trip = False

    def scan(self, now):
        self.level = self.level_raw / 100.0
        if self.estop or self.stop_pb:
            self.running = False
        elif self.start_pb:
            self.running = True
        if self.level >= self.level_hh:
            self.hh_trip = True
        elif self.level < self.level_hi_sp:
            self.hh_trip = False
        if self.hh_trip:
            self.pump = False
        elif self.level < self.level_lo_sp:
            self.pump = True
        elif self.level > self.level_hi_sp:
            self.pump = False
        self.alarm_timer(now, self.hh_trip, 2000)
        self.alarm = self.alarm_timer.q
        s = self.state
        if s == 0:
            self.valve = False
            self.conveyor = self.running
            if self.running and self.bottle_present:
                self.state = 1
        elif s == 1:
            self.conveyor = False
            self.valve = True
            if self.fill_timer.q:
                self.state = 2
        elif s == 2:
            self.valve = False
            if self.settle_timer.q:
                self.fill_count += 1
                self.state = 3
        elif s == 3:
            self.conveyor = True
            if not self.bottle_present:
                self.state = 0
        else:
            self.state = 0
            self.rejects += 1
        self.fill_timer(now, self.state == 1, self.fill_time)
        self.settle_timer(now, self.state == 2, 100)
        if not self.running:
            self.valve = False
            self.conveyor = False
        self.samples += 1
        self.avg_level = self.avg_level + (self.level - self.avg_level) / 10.0
        if self.samples > 1000:
            self.samples = 0


def inputs(n):
    """A deterministic input pattern that walks every branch."""
    seq = []
    for k in range(n):
        seq.append((k % 5000 == 10, k % 5000 == 4000, (k // 70) % 2 == 0, 3000 + (k * 7) % 7000))
    return seq


def run_st(plc, seq, cycle):
    w = [plc.input_writer(n) for n in ("start_pb", "stop_pb", "bottle_present", "level_raw")]
    t0 = time.perf_counter()
    for k, (start, stop, bottle, raw) in enumerate(seq):
        # drive inputs through the latched input image, as the twin does
        w[0](start)
        w[1](stop)
        w[2](bottle)
        w[3](raw)
        plc.scan(k * cycle)
    return time.perf_counter() - t0


def run_st_bare(plc, seq, cycle):
    """Only the compiled body: the cost of the ST code itself, without runtime bookkeeping."""
    inst = plc._inst
    call = inst.__call__
    t0 = time.perf_counter()
    for k, (start, stop, bottle, raw) in enumerate(seq):
        inst.v_start_pb, inst.v_stop_pb, inst.v_bottle_present, inst.v_level_raw = start, stop, bottle, raw
        plc.diag.last_now_ms = k * cycle
        call()
    return time.perf_counter() - t0


def run_py(h, seq, cycle):
    t0 = time.perf_counter()
    for k, (start, stop, bottle, raw) in enumerate(seq):
        h.start_pb, h.stop_pb, h.bottle_present, h.level_raw = start, stop, bottle, raw
        h.scan(k * cycle)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    src = (Path(__file__).parent / "reference.st").read_text()
    seq = inputs(args.scans)
    res = {"st": [], "st_body": [], "py": []}
    for _ in range(args.rounds):  # interleave rounds: noise hits all variants alike
        plc, plc2, h = Plc(src, name="filler"), Plc(src, name="filler"), HandWritten()
        res["st"].append(run_st(plc, seq, 10))
        res["st_body"].append(run_st_bare(plc2, seq, 10))
        res["py"].append(run_py(h, seq, 10))
        got = (plc.read("fill_count"), plc.read("state"), plc.read("pump"), plc.read("alarm"))
        want = (h.fill_count, h.state, h.pump, h.alarm)
        assert got == want, f"ST and Python disagree: {got} vs {want}"
        assert plc2.read("fill_count") == h.fill_count
    med = {k: statistics.median(v) for k, v in res.items()}
    rate = {k: args.scans / v for k, v in med.items()}
    print(f"reference program: {args.scans} scans x {args.rounds} rounds, fill_count={h.fill_count}")
    print(f"  hand-written Python   {rate['py']:>12,.0f} scans/s  ({1e6 / rate['py']:.2f} us/scan)")
    print(f"  compiled ST, body     {rate['st_body']:>12,.0f} scans/s  ({1e6 / rate['st_body']:.2f} us/scan)")
    print(f"  compiled ST, Plc.scan {rate['st']:>12,.0f} scans/s  ({1e6 / rate['st']:.2f} us/scan)")
    print(f"ratio ST body / Python      = {med['st_body'] / med['py']:.2f}x  (goal <= 3x)")
    print(f"ratio Plc.scan / Python     = {med['st'] / med['py']:.2f}x  (incl. input image writes + latching, diagnostics)")


if __name__ == "__main__":
    main()
