"""The I/O board between the line and its PLCs: named signals that wake waiters on change.

Sensors are written by the line and read by PLCs; actuators are written by
PLC outputs and read by the line. A change pokes every process that
subscribed, which then re-checks its own condition (one wake-up event per
wait keeps the event queue small).
"""

from __future__ import annotations

from typing import Any, Callable

SENSOR, ACTUATOR = "sensor", "actuator"


class Signal:
    __slots__ = ("name", "direction", "value", "_pokes", "_listeners")

    def __init__(self, name: str, direction: str, value: Any) -> None:
        self.name = name
        self.direction = direction
        self.value = value
        self._pokes: list[Callable[[], None]] = []
        self._listeners: list[Callable[["Signal"], None]] = []

    def set(self, value: Any) -> None:
        if value == self.value:
            return
        self.value = value
        for listener in self._listeners:
            listener(self)
        for poke in self._pokes:
            poke()

    def on_change(self, listener: Callable[["Signal"], None]) -> None:
        """Called synchronously with the signal, for recorders and I/O links."""
        self._listeners.append(listener)

    def wakes(self, poke: Callable[[], None]) -> None:
        """Poke a waiting process when this signal changes."""
        self._pokes.append(poke)


class Board:
    """All signals of a line, by name."""

    def __init__(self) -> None:
        self.signals: dict[str, Signal] = {}

    def add(self, name: str, direction: str, value: Any) -> Signal:
        s = Signal(name, direction, value)
        self.signals[name] = s
        return s

    def __getitem__(self, name: str) -> Signal:
        return self.signals[name]

    def __contains__(self, name: str) -> bool:
        return name in self.signals

    def values(self) -> dict[str, Any]:
        return {n: s.value for n, s in self.signals.items()}
