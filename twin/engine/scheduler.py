"""PLC scan scheduling on the SimPy clock, with exact skipping of idle scans.

Lockstep: every PLC scans every cycle on a grid from t=0. Ties are fixed so
that they can be reproduced: at one instant, every line event runs before
any scan (SimPy priority 0/1), and PLCs scan in a fixed order (priority
2 + index).

Skipping: a scan that changed nothing that can influence a later scan
(same state key before and after, with the inputs it latched) proves that
the next scans are no-ops until a sensor changes, someone writes to the
PLC, or a running timer reaches its preset. (Timer ET is left out of the key
when the program never reads ET: it then only matters through Q, which we
wake for.) The PLC then sleeps and is woken for exactly the grid slot at
which lockstep would first have seen the change: the same slot if the change
came earlier in that instant (a line event, or a PLC earlier in the order),
otherwise the next one. The journal of a skipping run equals the lockstep
journal byte for byte; tests prove it.
"""

from __future__ import annotations

import math
from time import perf_counter_ns
from typing import Callable

import simpy
from simpy.events import Event

from plcsim.runtime import Plc

from .iolink import InProcessIoLink

SCAN_PRIORITY_BASE = 2  # after SimPy's URGENT (0) and NORMAL (1): line events go first


class Wake(Event):
    """A timeout with an explicit priority (simpy.Timeout has none)."""

    def __init__(self, env: simpy.Environment, delay: float, priority: int) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        # always float: an int time would print differently in the journal (24138060 vs 24138060.0)
        env.schedule(self, priority, float(delay))


class ScanContext:
    """Where we are inside the current instant: the order of the last PLC that scanned at it.

    In lockstep an instant runs: line events, PLC 0's scan, reactions to it (line
    events created by it sort before the next scan), PLC 1's scan, reactions, ...
    So a change at time t made after PLC i's scan at t is first seen at t by the
    PLCs after i, and at the next slot by PLC i and those before it.
    """

    def __init__(self) -> None:
        self.time = -1.0
        self.order = -1

    def position(self, now: float) -> int:
        return self.order if self.time == now else -1


class PlcDriver:
    def __init__(self, env: simpy.Environment, plc: Plc, link: InProcessIoLink, order: int,
                 ctx: ScanContext, *, skip: bool, after_scan: Callable[[], None] | None = None) -> None:
        self.env, self.plc, self.link, self.order, self.ctx = env, plc, link, order, ctx
        self.skip = skip
        self.after_scan = after_scan
        self.cycle = plc.cycle_ms
        self.priority = SCAN_PRIORITY_BASE + order
        self.last_scan = -math.inf
        self.executed = 0
        self.busy_ns = 0  # wall time spent in this PLC's I/O copy and scans (for the benchmark)
        self._sleeping: Event | None = None
        self._wake_at: float | None = None
        if skip:
            link.on_dirty = self._changed
            plc.on_external_change = self._changed

    # ------------------------------------------------------------ waking
    def _slot_for_change(self) -> float:
        """The grid slot of the first lockstep scan that sees a change happening now."""
        now = self.env.now
        c = self.cycle
        k = math.ceil(now / c)
        slot = k * c
        if slot == now and self.ctx.position(now) >= self.order:
            slot += c  # lockstep already scanned this PLC at this instant, before the change
        while slot <= self.last_scan:
            slot += c
        return slot

    def _changed(self) -> None:
        if self._sleeping is None:
            return
        self._schedule(self._slot_for_change())

    def _schedule(self, slot: float) -> None:
        if self._wake_at is not None and self._wake_at <= slot:
            return
        self._wake_at = slot
        ev = self._sleeping
        Wake(self.env, slot - self.env.now, self.priority).callbacks.append(
            lambda _e, ev=ev, slot=slot: self._fire(ev, slot))

    def _fire(self, ev: Event, slot: float) -> None:
        # only the earliest scheduled wake counts; later ones find the driver awake
        if self._sleeping is ev and self._wake_at == slot and not ev.triggered:
            self._sleeping = None
            self._wake_at = None
            ev.succeed()

    # --------------------------------------------------------------- run
    def process(self):
        env, plc, link = self.env, self.plc, self.link
        # the first scan at t=0 comes after the line's t=0 events
        yield Wake(env, 0, self.priority)
        while True:
            key = plc.state_key() if self.skip else None
            self.ctx.time, self.ctx.order = env.now, self.order
            t0 = perf_counter_ns()
            link.pull_inputs()
            plc.scan(int(env.now))
            link.push_outputs()
            self.busy_ns += perf_counter_ns() - t0
            if self.after_scan is not None:
                self.after_scan()
            self.last_scan = env.now
            self.executed += 1
            if self.skip and not link.dirty and plc.is_idle_after(key):
                self._sleeping = env.event()
                nxt = plc.next_timer_event()
                if nxt is not None:
                    slot = self.cycle * math.ceil(max(nxt, env.now + 1e-9) / self.cycle)
                    self._schedule(max(slot, env.now + self.cycle))
                yield self._sleeping
            else:
                yield Wake(env, self.cycle, self.priority)
