"""IoLink: how PLC I/O images meet the line's signals.

In-process, sensors are copied into the PLC's input image before each scan
and outputs onto the line's actuators after it. (In containers the same
interface polls a remote-I/O Modbus server instead; the engine does not
care which.)
"""

from __future__ import annotations

from typing import Any, Callable

from plcsim.runtime import Plc

from ..line.signals import Board
from ..model import Binding


class InProcessIoLink:
    def __init__(self, plc: Plc, board: Board, bindings: list[Binding], catalogue: dict[str, tuple[str, str]]) -> None:
        self.plc = plc
        self._sensors: list[tuple[Any, Callable[[Any], None], Callable[[Any], Any]]] = []
        self._actuators: list[tuple[Any, Callable[[], Any]]] = []
        self.dirty = True  # some sensor changed since the last scan
        self._changed: set[int] | None = None  # which ones (None: all, at start)
        self.on_dirty: Callable[[], None] | None = None  # the scheduler's wake-up
        for b in bindings:
            if b.plc != plc.name:
                continue
            sig = board[b.signal]
            direction, _kind = catalogue[b.signal]
            tag = plc.tag(b.tag)
            if direction == "sensor":
                conv = _converter(tag.type.kind, b.scale, tag.type)
                index = len(self._sensors)
                self._sensors.append((sig, plc.input_writer(b.tag), conv))
                sig.on_change(lambda _s, i=index: self._mark(i))
            else:
                self._actuators.append((sig, plc.output_reader(b.tag)))

    def _mark(self, index: int) -> None:
        self.dirty = True
        if self._changed is not None:
            self._changed.add(index)
        if self.on_dirty is not None:
            self.on_dirty()

    before_pull: Callable[[], None] | None = None

    def pull_inputs(self) -> None:
        if self.before_pull is not None:
            self.before_pull()
        if self._changed is None:
            todo = range(len(self._sensors))
        else:
            todo = self._changed
        sensors = self._sensors
        for i in todo:
            sig, write, conv = sensors[i]
            write(conv(sig.value))
        self._changed = set()  # the input image holds the rest: only changes need copying
        self.dirty = False

    def push_outputs(self) -> None:
        for sig, read in self._actuators:
            sig.set(read())


def _converter(kind: str, scale: float, t) -> Callable[[Any], Any]:
    if kind == "bool":
        return bool
    if kind == "real":
        return lambda v: float(v) * scale
    lo, hi = t.min, t.max
    # an analog card clamps at its range ends rather than wrapping
    return lambda v: max(lo, min(hi, int(round(float(v) * scale))))
