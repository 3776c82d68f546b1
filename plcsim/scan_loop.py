"""Real-time scan loop: pace PLC scans on the wall clock inside one asyncio loop.

The PLC clock is milliseconds since the loop started (monotonic), so timers
never jump with wall-clock adjustments. Each scan is aligned to its slot on
the cycle grid; a scan that starts a full cycle late counts as an overrun
and the loop skips to the next free slot instead of bursting to catch up,
as a real PLC's cyclic task does.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Iterable

from .aio import cancel_and_wait
from .runtime import Plc

SPIN_NS = 1_500_000  # how early to wake before a slot (covers epoll's ms rounding)


class ScanLoop:
    def __init__(self, plcs: Plc | Iterable[Plc], *, keep_lateness: int = 20_000) -> None:
        self.plcs = [plcs] if isinstance(plcs, Plc) else list(plcs)
        self._t0 = time.monotonic_ns()
        self._task: asyncio.Task | None = None
        # how late each recent scan started after its slot, in microseconds (for p99 reporting)
        self.lateness_us: deque[float] = deque(maxlen=keep_lateness)

    def now_ms(self) -> int:
        return (time.monotonic_ns() - self._t0) // 1_000_000

    def start(self) -> None:
        self._t0 = time.monotonic_ns()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        # one task per distinct cycle time keeps each PLC on its own grid
        by_cycle: dict[int, list[Plc]] = {}
        for p in self.plcs:
            by_cycle.setdefault(p.cycle_ms, []).append(p)
        await asyncio.gather(*(self._cyclic(c, ps) for c, ps in by_cycle.items()))

    async def _cyclic(self, cycle_ms: int, plcs: list[Plc]) -> None:
        cycle_ns = cycle_ms * 1_000_000
        slot = 0  # ns since t0
        while True:
            record = self.lateness_us.append
            for p in plcs:
                # lateness per PLC: PLCs sharing a slot run one after another
                now = time.monotonic_ns() - self._t0
                record((now - slot) / 1000.0)
                p.scan(now // 1_000_000)
            slot += cycle_ns
            behind = time.monotonic_ns() - self._t0 - slot
            if behind > 0:  # the scan ran past its next slot: overrun; skip rather than burst
                slot += (behind // cycle_ns + 1) * cycle_ns
                for p in plcs:
                    p.diag.overruns += 1
            await self._wait_until(slot)

    async def _wait_until(self, slot_ns: int) -> None:
        # epoll rounds its timeout up to whole milliseconds, so a plain sleep
        # wakes ~1 ms late. Sleep to just before the slot, then yield to the
        # loop (servers keep running) until the slot arrives.
        target = self._t0 + slot_ns
        delay = (target - SPIN_NS - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        while time.monotonic_ns() < target:
            await asyncio.sleep(0)
