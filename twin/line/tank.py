"""The filler's buffer tank: level integrated from pump inflow and fill outflow.

Flows are constant between actuator changes, so the level is integrated
exactly (piecewise linear) at every change and at a fixed step; the level
sensor is refreshed at that step, like an analog input card. Overflow is
detected at the exact crossing time.
"""

from __future__ import annotations

from typing import Callable

from ..model import Tank as TankSpec
from .bottle import Bottle


class Tank:
    def __init__(self, env, spec: TankSpec, board, on_overflow: Callable[[float, float], None]) -> None:
        self.env = env
        self.spec = spec
        self.volume = spec.capacity * spec.initial / 100.0
        self.last = env.now
        self.bottle: Bottle | None = None
        self.overflowed = False
        self.spilled = 0.0
        self._on_overflow = on_overflow
        self._pump = board["tank.inlet_pump"]
        self._valve = board["tank.inlet_valve"]
        self._fill = board["filler.fill_valve"]
        self._level = board["tank.level"]
        # flows as of the last advance: integrate the past with the old actuator states
        self._inflow_on = False
        self._fill_on = False
        self.pump_stuck: bool | None = None  # a fault forcing the pump (None = follows its output)
        self.sensor_stuck: float | None = None  # a frozen level transmitter reads this (None = healthy)
        for s in (self._pump, self._valve, self._fill):
            s.on_change(lambda _s: self.advance())
        self._level.value = self.level_pct

    @property
    def level_pct(self) -> float:
        return 100.0 * self.volume / self.spec.capacity

    def _recompute_flows(self) -> None:
        pump = self._pump.value if self.pump_stuck is None else self.pump_stuck
        self._inflow_on = bool(pump and self._valve.value)
        self._fill_on = bool(self._fill.value and self.bottle is not None)

    def advance(self) -> None:
        """Integrate up to now with the flows that held since the last call, then take the new ones."""
        now = self.env.now
        dt = (now - self.last) / 1000.0
        if dt > 0:
            inflow = self.spec.pump_flow if self._inflow_on else 0.0
            outflow = self.spec.fill_flow if self._fill_on else 0.0
            v0 = self.volume
            net = inflow - outflow
            v = v0 + net * dt
            if v < 0.0:  # ran dry part-way: the bottle only got what there was
                outflow_given = v0 + inflow * dt
                v = 0.0
            else:
                outflow_given = outflow * dt
            if self._fill_on and self.bottle is not None:
                self.bottle.volume += outflow_given
            if v > self.spec.capacity:
                if not self.overflowed and net > 0:
                    t_cross = self.last + 1000.0 * (self.spec.capacity - v0) / net
                    self._on_overflow(max(self.last, t_cross), v)
                self.overflowed = True
                self.spilled += v - self.spec.capacity
                v = self.spec.capacity
            else:
                self.overflowed = False
            self.volume = v
        self.last = now
        self._recompute_flows()

    def force_pump(self, running: bool | None) -> None:
        """A fault forcing the pump on or off (None: it follows its output again), from now on."""
        self.advance()  # the past keeps the flows it had
        self.pump_stuck = running
        self._recompute_flows()

    def place(self, bottle: Bottle | None) -> None:
        self.advance()
        self.bottle = bottle
        self._recompute_flows()

    def step_process(self):
        step = self.spec.step
        while True:
            yield self.env.timeout(step)
            self.advance()
            reading = self.level_pct if self.sensor_stuck is None else self.sensor_stuck
            self._level.set(round(reading, 4))
