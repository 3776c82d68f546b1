"""The line operator: opens the guard to clear breakdowns, and restarts the line after a stop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..model import Operator as OperatorSpec
from ..model.units import sample

if TYPE_CHECKING:  # pragma: no cover
    from .model import LineModel

PULSE_MS = 500.0  # how long a pushbutton is held
RETRY_MS = 60_000.0  # how soon an operator tries a refused HMI start again


class Operator:
    def __init__(self, line: "LineModel", spec: OperatorSpec) -> None:
        self.line, self.env, self.spec = line, line.env, spec
        self.rng = line.streams.rng("operator", "guard")
        self.delay_rng = line.streams.rng("operator", "restart")
        self.guard = line.board["safety.guard_closed"]
        self.start_pb = line.board["operator.start_pb"]
        self._guard_holders = 0
        # how the operator restarts through the HMI; set by the engine (a Modbus write to line_plc)
        self.hmi_start: Callable[[], bool] | None = None

    def first_start(self):
        """The shift starts with the operator starting the line."""
        yield self.env.timeout(1000.0)
        yield from self.press_start()

    def breakdown(self, station: str, ttr: float) -> None:
        # always draw, so the stream stays aligned across runs (common random numbers)
        opens = self.rng.random() < self.spec.guard_open_on_failure
        if opens:
            self.env.process(self._clear_with_guard_open(station, ttr))

    def _clear_with_guard_open(self, station: str, ttr: float):
        self.open_guard(f"clear {station}")
        yield self.env.timeout(ttr)
        self.close_guard(f"cleared {station}")
        if self._guard_holders == 0:
            yield self.env.timeout(sample(self.spec.restart_delay, self.delay_rng))
            if self._guard_holders == 0:
                yield from self.press_start()

    def open_guard(self, why: str) -> None:
        self._guard_holders += 1
        if self._guard_holders == 1:
            self.line.event("guard_open", reason=why)
            self.guard.set(False)

    def close_guard(self, why: str) -> None:
        self._guard_holders = max(0, self._guard_holders - 1)
        if self._guard_holders == 0:
            self.line.event("guard_closed", reason=why)
            self.guard.set(True)

    def press_start(self):
        if self.spec.restart_via == "hmi" and self.hmi_start is not None:
            # an operator whose start is refused (the HMI shows a comms error) tries again a
            # minute later, for as long as the guard stays shut
            while True:
                ok = self.hmi_start()
                self.line.event("operator_start", via="hmi", accepted=ok)
                if ok:
                    return
                yield self.env.timeout(RETRY_MS)
                if self._guard_holders:
                    return
        self.line.event("operator_start", via="pushbutton")
        self.start_pb.set(True)
        yield self.env.timeout(PULSE_MS)
        self.start_pb.set(False)
