"""Station processes: source, machine, filler, inspection, sink.

A station takes a bottle from its upstream conveyor, works on it, and puts
it on the downstream conveyor. Transfers need the conveyors running (the
line PLC's output); waiting is classified as STOPPED (conveyors or the
station's PLC permissive off), STARVED (nothing upstream) or BLOCKED (no
room downstream). Failures count operating time only: each failure mode
keeps the operating time left until it strikes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import FailureMode, Station as StationSpec
from ..model.units import sample
from .bottle import Bottle
from .buffers import Buffer
from .recorder import BLOCKED, EXECUTE, HELD, STARVED, STOPPED, StateLog

if TYPE_CHECKING:  # pragma: no cover
    from .model import LineModel


class FailureClock:
    __slots__ = ("mode", "ttf_rng", "ttr_rng", "left")

    def __init__(self, mode: FailureMode, ttf_rng, ttr_rng) -> None:
        self.mode, self.ttf_rng, self.ttr_rng = mode, ttf_rng, ttr_rng
        self.left = float(ttf_rng.exponential(mode.mtbf))

    def rearm(self) -> None:
        self.left = float(self.ttf_rng.exponential(self.mode.mtbf))


class Station:
    def __init__(self, line: "LineModel", name: str, spec: StationSpec,
                 up: Buffer | None, down: Buffer | None) -> None:
        self.line, self.env, self.name, self.spec = line, line.env, name, spec
        self.up, self.down = up, down
        self.log = StateLog(self.env, name, line.gantt_until)
        self._wake = None
        s = line.streams
        self.cycle_rng = s.rng(name, "cycle")
        self.defect_rng = s.rng(name, "defects")
        self.failures = [FailureClock(m, s.rng(name, m.name, "ttf"), s.rng(name, m.name, "ttr"))
                         for m in spec.failures]
        self.done = 0  # bottles this station has finished
        self.pending_hold = 0.0  # an injected breakdown, taken at the next operation
        self.breakdowns = 0
        self.repair_time = 0.0
        self.microstops = 0
        board = line.board
        self.conveyor = board["conveyors.run"]
        self.conveyor.wakes(self.poke)
        run_name = f"{name}.run"
        # a machine with a bound run signal only works while its PLC says so
        self.run_sig = board[run_name] if run_name in line.bound_actuators else None
        if self.run_sig is not None:
            self.run_sig.wakes(self.poke)
        self.present = board[f"{name}.bottle_present"] if f"{name}.bottle_present" in board else None
        self.fault = board[f"{name}.fault"] if f"{name}.fault" in board else None

    # ------------------------------------------------------------ waiting
    def poke(self) -> None:
        w = self._wake
        if w is not None and not w.triggered:
            w.succeed()

    def sleep(self):
        self._wake = self.env.event()
        return self._wake

    def permitted(self) -> bool:
        return self.conveyor.value and (self.run_sig is None or self.run_sig.value)

    def take(self):
        while True:
            if not self.permitted():
                self.log.set(STOPPED)
            elif not self.up.items:
                self.log.set(STARVED)
            else:
                item = self.up.pop()
                if self.present is not None:
                    self.present.set(True)
                return item
            yield self.sleep()

    def give(self, item: Bottle):
        while True:
            if not self.conveyor.value:
                self.log.set(STOPPED)
            elif self.down.full:
                self.log.set(BLOCKED)
            else:
                self.down.put(item)
                if self.present is not None:
                    self.present.set(False)
                return
            yield self.sleep()

    # ---------------------------------------------------------- operating
    def operate(self, duration: float):
        """Run for `duration` ms of operating time; failures strike when their clock runs out."""
        if self.pending_hold > 0:
            yield from self._injected_breakdown()
        remaining = duration
        while remaining > 0:
            self.log.set(EXECUTE)
            first = min(self.failures, key=lambda f: f.left) if self.failures else None
            step = remaining if first is None or first.left > remaining else first.left
            if step > 0:
                yield self.env.timeout(step)
            for f in self.failures:
                f.left -= step
            remaining -= step
            if first is not None and first.left <= 0:
                yield from self.fail(first)

    def inject_breakdown(self, duration: float) -> None:
        """A breakdown forced from outside (fault injection): held for exactly `duration`."""
        self.pending_hold += duration

    def _injected_breakdown(self):
        hold, self.pending_hold = self.pending_hold, 0.0
        self.log.set(HELD, "breakdown")
        if self.fault is not None:
            self.fault.set(True)
        self.breakdowns += 1
        self.repair_time += hold
        self.line.event("breakdown", station=self.name, mode="injected", ttr_s=round(hold / 1000, 3))
        yield self.env.timeout(hold)
        if self.fault is not None:
            self.fault.set(False)
        self.line.event("repaired", station=self.name, mode="injected")

    def wear(self, operated: float):
        """Debit operating time spent outside operate(); a failure due in it strikes now."""
        for f in self.failures:
            f.left -= operated
        for f in sorted(self.failures, key=lambda f: f.left):
            if f.left <= 0:
                yield from self.fail(f)

    def fail(self, clock: FailureClock):
        mode = clock.mode
        ttr = sample(mode.mttr, clock.ttr_rng)
        clock.rearm()
        self.log.set(HELD, mode.kind)
        if self.fault is not None:
            self.fault.set(True)
        if mode.kind == "breakdown":
            self.breakdowns += 1
            self.repair_time += ttr
            self.line.event("breakdown", station=self.name, mode=mode.name, ttr_s=round(ttr / 1000, 3))
            self.line.operator.breakdown(self.name, ttr)
        else:
            self.microstops += 1
        yield self.env.timeout(ttr)
        if self.fault is not None:
            self.fault.set(False)
        if mode.kind == "breakdown":
            self.line.event("repaired", station=self.name, mode=mode.name)

    def maybe_defect(self, item: Bottle) -> None:
        # always draw, so the stream stays aligned across runs (common random numbers)
        if self.defect_rng.random() < self.spec.defect_rate:
            item.defects.append(self.name)

    def cycle_time(self) -> float:
        return sample(self.spec.cycle, self.cycle_rng) if self.spec.cycle is not None else 0.0

    def run(self):
        while True:
            item = yield from self.take()
            yield from self.operate(self.cycle_time())
            self.maybe_defect(item)
            yield from self.give(item)
            self.done += 1
            self.line.finished(self, item)


class Source(Station):
    """Empty bottles arrive at the line's nominal infeed rate."""

    def run(self):
        n = 0
        while True:
            self.log.set(EXECUTE)
            yield self.env.timeout(self.cycle_time())
            n += 1
            yield from self.give(Bottle(n))
            self.done += 1


class Sink(Station):
    """The end of the line: packed cases leave here."""

    def run(self):
        while True:
            item = yield from self.take()
            self.done += 1
            self.line.packed(item)


class Filler(Station):
    """Mechanical index by the line; the fill itself is the PLC's: valve open time, then release."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        board = self.line.board
        self.in_place = board[f"{self.name}.bottle_in_place"]
        self.fill_valve = board[f"{self.name}.fill_valve"]
        self.release = board[f"{self.name}.release"]
        self.fill_valve.wakes(self.poke)
        self.release.wakes(self.poke)
        self.present = None  # the filler drives bottle_in_place itself

    def run(self):
        tank = self.line.tank
        min_fill = tank.spec.min_fill if tank is not None else 0.0
        while True:
            item = yield from self.take()
            yield from self.operate(self.cycle_time())  # index the bottle under the nozzle
            if tank is not None:
                tank.place(item)
            self.in_place.set(True)
            t_fill = self.env.now
            yield from self.await_release()
            # the fill is operating time too: it wears the machine like the index does
            yield from self.wear(self.env.now - t_fill)
            yield from self.give(item)
            if tank is not None:
                tank.place(None)
            self.in_place.set(False)
            if item.volume < min_fill:
                item.defects.append("underfill")
            self.maybe_defect(item)
            self.done += 1
            self.line.finished(self, item)


    def await_release(self):
        """Wait for the PLC's fill sequence. The valve open time and a short handshake before
        and after it are the machine's cycle (EXECUTE); a bottle the PLC holds longer, or
        one held with the conveyors stopped, is production stopped by the PLC (STOPPED)."""
        allowance = self.spec.handshake
        deadline = self.env.now + allowance
        valve_was_open = False
        while not self.release.value:
            now = self.env.now
            if self.fill_valve.value:
                valve_was_open = True
                self.log.set(EXECUTE)
                yield self.sleep()
                continue
            if valve_was_open:  # the valve just closed: the release should follow shortly
                valve_was_open = False
                deadline = now + allowance
            if self.conveyor.value and now < deadline:
                self.log.set(EXECUTE)
                yield self.env.any_of([self.sleep(), self.env.timeout(deadline - now)])
            else:
                self.log.set(STOPPED)
                yield self.sleep()


class Inspection(Station):
    """A camera judges each bottle; the QA PLC's reject gate decides where it goes."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        board = self.line.board
        self.at_gate = board[f"{self.name}.bottle_at_gate"]
        self.defect = board[f"{self.name}.defect_detected"]
        self.gate = board[f"{self.name}.reject_gate"]
        self.detect_rng = self.line.streams.rng(self.name, "detect")
        self.present = None

    def run(self):
        while True:
            item = yield from self.take()
            yield from self.operate(self.cycle_time())
            seen = self.detect_rng.random() < self.spec.detect_prob
            item.flagged = bool(item.defects) and seen
            self.defect.set(item.flagged)
            self.at_gate.set(True)
            self.log.set(EXECUTE)
            yield self.env.timeout(self.spec.gate_time)
            if self.gate.value:
                item.rejected = True
                self.line.rejected(item)
            else:
                yield from self.give(item)
            self.at_gate.set(False)
            self.defect.set(False)
            self.done += 1
            self.line.finished(self, item)


KINDS = {"source": Source, "sink": Sink, "machine": Station, "filler": Filler, "inspection": Inspection}
