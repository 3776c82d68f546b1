"""Accumulation conveyors between stations: FIFO with a capacity, poking neighbours on change."""

from __future__ import annotations

from collections import deque
from typing import Callable


class Buffer:
    __slots__ = ("name", "capacity", "items", "_wake_down", "_wake_up")

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self.items: deque = deque()
        self._wake_down: Callable[[], None] = _nothing  # the station that takes from here
        self._wake_up: Callable[[], None] = _nothing    # the station that puts here

    def connect(self, upstream_poke: Callable[[], None], downstream_poke: Callable[[], None]) -> None:
        self._wake_up, self._wake_down = upstream_poke, downstream_poke

    @property
    def level(self) -> int:
        return len(self.items)

    @property
    def full(self) -> bool:
        return len(self.items) >= self.capacity

    def put(self, item) -> None:
        self.items.append(item)
        self._wake_down()

    def pop(self):
        item = self.items.popleft()
        self._wake_up()
        return item


def _nothing() -> None:
    return None
