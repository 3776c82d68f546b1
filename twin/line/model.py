"""The line as one SimPy model: stations, conveyors, tank, operator, invariants, records.

Time is in milliseconds, the PLCs' clock. The model knows nothing of PLCs:
it reads actuator signals and writes sensor signals on its board; the
engine's I/O link connects those to PLC tags.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ..model import Line as LineSpec
from ..model.signals import catalogue
from .bottle import Bottle
from .buffers import Buffer
from .operator import Operator
from .recorder import STATES
from .signals import Board, Signal
from .stations import KINDS, Station
from .streams import Streams
from .tank import Tank

TRACE_WINDOW_MS = 10_000.0   # counterexample traces show this much history
GANTT_MS = 3_600_000.0       # station-state Gantt covers the first hour
GANTT_BIN_MS = 1_000.0


class LineModel:
    def __init__(self, env, spec: LineSpec, streams: Streams, *, bound_actuators: set[str],
                 sample_ms: float, warmup_ms: float) -> None:
        self.env, self.spec, self.streams = env, spec, streams
        self.bound_actuators = bound_actuators
        self.gantt_until = GANTT_MS
        self.events: list[dict[str, Any]] = []
        self.violations: list[dict[str, Any]] = []
        self.trace: deque = deque(maxlen=20_000)
        self.stop_on_violation = False
        self.stop_event = env.event()
        self._motion_bad = False
        self.board = Board()
        for name, (direction, kind) in catalogue(spec).items():
            self.board.add(name, direction, 0.0 if kind == "real" else False)
        # the plant starts healthy: e-stop chain closed, guard shut
        self.board["safety.estop_ok"].value = True
        self.board["safety.guard_closed"].value = True
        for sig in self.board.signals.values():
            sig.on_change(self._traced)
        self.board["conveyors.run"].on_change(lambda s: self.board["conveyors.running"].set(s.value))
        self.tank = Tank(env, spec.tank, self.board, self._overflow) if spec.tank is not None else None
        self.operator = Operator(self, spec.operator)
        self.stations: dict[str, Station] = {}
        self.buffers: dict[str, Buffer] = {}
        self._build()
        self.counts = {"produced": 0, "inspected": 0, "rejected": 0, "packed": 0, "packed_good": 0,
                       "packed_defective": 0, "underfilled": 0}
        self.kpi_station = self.stations[spec.kpi_station]
        self.samples: list[dict[str, Any]] = []
        self.sample_ms = sample_ms
        self.warmup_ms = warmup_ms
        self.at_warmup: dict[str, Any] | None = None
        self.marks: dict[str, dict[str, Any]] = {}  # named snapshots of the totals (KPI windows)

    # ------------------------------------------------------------- building
    def _build(self) -> None:
        flow = self.spec.flow
        for i in range(1, len(flow), 2):
            name = flow[i]
            self.buffers[name] = Buffer(name, self.spec.buffers[name].capacity)
        for i in range(0, len(flow), 2):
            name = flow[i]
            up = self.buffers[flow[i - 1]] if i > 0 else None
            down = self.buffers[flow[i + 1]] if i + 1 < len(flow) else None
            st = self.spec.stations[name]
            self.stations[name] = KINDS[st.kind](self, name, st, up, down)
        for i in range(1, len(flow), 2):
            b = self.buffers[flow[i]]
            b.connect(self.stations[flow[i - 1]].poke, self.stations[flow[i + 1]].poke)

    def start(self) -> None:
        for st in self.stations.values():
            self.env.process(st.run())
        if self.tank is not None:
            self.env.process(self.tank.step_process())
        self.env.process(self._sampler())
        self.env.process(self.operator.first_start())
        if self.warmup_ms > 0:
            self.env.process(self._warmup())
        else:
            self.at_warmup = self._totals()

    # -------------------------------------------------------- bookkeeping
    def event(self, kind: str, **data: Any) -> None:
        self.events.append({"t_ms": round(float(self.env.now), 3), "event": kind, **data})

    def _traced(self, sig: Signal) -> None:
        self.trace.append((self.env.now, sig.name, sig.value))

    def trace_before(self, t_ms: float) -> list[dict[str, Any]]:
        lo = t_ms - TRACE_WINDOW_MS
        return [{"t_ms": round(float(t), 3), "signal": n, "value": v} for t, n, v in self.trace if lo <= t <= t_ms]

    def violation(self, invariant: str, t_ms: float, **detail: Any) -> None:
        v = {"invariant": invariant, "t_ms": round(float(t_ms), 3), **detail, "trace": self.trace_before(t_ms),
             # every signal's value when it was noticed: the steady ones that explain it are here too
             "signals": self.board.values()}
        self.violations.append(v)
        self.event("violation", invariant=invariant, **detail)
        if self.stop_on_violation and not self.stop_event.triggered:
            # stop the run at this instant without killing the process that noticed it
            self.stop_event.succeed(invariant)

    def _overflow(self, t_ms: float, volume: float) -> None:
        self.violation("tank_no_overflow", t_ms, level_pct=round(100 * volume / self.spec.tank.capacity, 3))

    def finished(self, station: Station, item: Bottle) -> None:
        if station is self.kpi_station:  # PQ of the constraint (for effectiveness)
            self.counts["produced"] += 1
        if station.spec.kind == "filler" and "underfill" in item.defects:
            self.counts["underfilled"] += 1
        elif station.spec.kind == "inspection":
            self.counts["inspected"] += 1

    def rejected(self, item: Bottle) -> None:
        self.counts["rejected"] += 1

    def packed(self, item: Bottle) -> None:
        if item.flagged:
            self.violation("rejects_never_packed", self.env.now, bottle=item.id, defects=list(item.defects))
        self.counts["packed"] += 1
        if item.good:
            self.counts["packed_good"] += 1
        else:
            self.counts["packed_defective"] += 1

    def check_motion(self, plc_saw_guard_closed: bool, plc_saw_estop_ok: bool) -> None:
        """Called after each line-PLC scan with the inputs that scan latched."""
        bad = self.board["conveyors.run"].value and not (plc_saw_guard_closed and plc_saw_estop_ok)
        if bad and not self._motion_bad:  # recorded once per episode, at the scan that allowed it
            what = "guard open" if not plc_saw_guard_closed else "e-stop pressed"
            self.violation("no_motion_with_guard_open", self.env.now, condition=what)
        self._motion_bad = bad

    # ------------------------------------------------------------- records
    def _totals(self) -> dict[str, Any]:
        return {
            "t_ms": self.env.now,
            "counts": dict(self.counts),
            "states": {n: s.log.snapshot() for n, s in self.stations.items()},
            "failures": {n: (s.breakdowns, s.repair_time, s.microstops) for n, s in self.stations.items()},
        }

    def mark_at(self, name: str, t_ms: float) -> None:
        """Record the totals at time t_ms under `name` (KPI windows of `twin validate`)."""
        def proc():
            yield self.env.timeout(max(0.0, t_ms - self.env.now))
            self.marks[name] = self._totals()
        self.env.process(proc())

    def mark_now(self, name: str) -> None:
        self.marks[name] = self._totals()

    def _warmup(self):
        yield self.env.timeout(self.warmup_ms)
        self.at_warmup = self._totals()
        self.event("warmup_end")

    def _sampler(self):
        # tank and buffers at 1 s in the first hour for plots (detailed runs only: it is 1.6 MB)
        fine = min(self.sample_ms, 1000.0) if self.gantt_until > 0 else self.sample_ms
        while True:
            self.samples.append(self._sample())
            yield self.env.timeout(fine if self.env.now < GANTT_MS else self.sample_ms)

    def _sample(self) -> dict[str, Any]:
        b = self.board
        s = {"t_ms": round(float(self.env.now), 3), "packed": self.counts["packed"],
             "packed_good": self.counts["packed_good"], "produced": self.counts["produced"],
             "rejected": self.counts["rejected"],
             "buffers": {n: buf.level for n, buf in self.buffers.items()},
             "conveyors": bool(b["conveyors.run"].value),
             "kpi_states": self.kpi_station.log.snapshot()}
        if self.tank is not None:
            self.tank.advance()
            s["tank"] = {"level": round(self.tank.level_pct, 3), "pump": bool(b["tank.inlet_pump"].value),
                         "valve": bool(b["tank.inlet_valve"].value), "fill": bool(b["filler.fill_valve"].value)}
        return s

    def gantt(self) -> dict[str, list[list]]:
        """First hour, per station: run-length encoded 1-s bins of the dominant state."""
        out = {}
        nbins = int(GANTT_MS / GANTT_BIN_MS)
        for name, st in self.stations.items():
            if st.spec.kind in ("source", "sink"):
                continue
            bins = [dict.fromkeys(STATES, 0.0) for _ in range(nbins)]
            for a, b, state in st.log.intervals:
                t = a
                while t < b:
                    k = int(t // GANTT_BIN_MS)
                    if k >= nbins:
                        break
                    end = min(b, (k + 1) * GANTT_BIN_MS)
                    bins[k][state] += end - t
                    t = end
            runs: list[list] = []
            for k, bin_ in enumerate(bins):
                if sum(bin_.values()) <= 0:
                    continue
                state = max(STATES, key=lambda s: bin_[s])
                if runs and runs[-1][2] == state and runs[-1][1] == k * GANTT_BIN_MS:
                    runs[-1][1] = (k + 1) * GANTT_BIN_MS
                else:
                    runs.append([k * GANTT_BIN_MS, (k + 1) * GANTT_BIN_MS, state])
            out[name] = runs
        return out

    def finish(self) -> dict[str, Any]:
        if not self.samples or self.samples[-1]["t_ms"] < self.env.now:
            self.samples.append(self._sample())  # the end of the run belongs to the series
        for st in self.stations.values():
            st.log.finish()
        if self.tank is not None:
            self.tank.advance()
        end = self._totals()
        start = self.at_warmup or end
        return {"start": start, "end": end}
