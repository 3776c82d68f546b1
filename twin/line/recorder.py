"""Station states over time: totals per time element, and intervals for the Gantt chart."""

from __future__ import annotations

EXECUTE, STARVED, BLOCKED, HELD, STOPPED = "EXECUTE", "STARVED", "BLOCKED", "HELD", "STOPPED"
STATES = (EXECUTE, STARVED, BLOCKED, HELD, STOPPED)
# time elements: HELD splits into breakdowns (down time) and micro-stops (a performance loss)
ELEMENTS = ("execute", "starved", "blocked", "held_breakdown", "held_microstop", "stopped")


class StateLog:
    __slots__ = ("env", "name", "state", "element", "since", "totals", "intervals", "gantt_until")

    def __init__(self, env, name: str, gantt_until: float) -> None:
        self.env = env
        self.name = name
        self.state = STARVED
        self.element = "starved"
        self.since = env.now
        self.totals = dict.fromkeys(ELEMENTS, 0.0)
        self.intervals: list[tuple[float, float, str]] = []
        self.gantt_until = gantt_until

    def set(self, state: str, cause: str | None = None) -> None:
        element = _element(state, cause)
        if state == self.state and element == self.element:
            return
        now = self.env.now
        self._close(now)
        self.state, self.element, self.since = state, element, now

    def _close(self, now: float) -> None:
        self.totals[self.element] += now - self.since
        if self.since < self.gantt_until and now > self.since:
            self.intervals.append((self.since, min(now, self.gantt_until), self.state))

    def snapshot(self) -> dict[str, float]:
        """Totals up to now (the open interval included)."""
        out = dict(self.totals)
        out[self.element] += self.env.now - self.since
        return out

    def finish(self) -> None:
        now = self.env.now
        self._close(now)
        self.since = now


def _element(state: str, cause: str | None) -> str:
    if state == HELD:
        return "held_microstop" if cause == "microstop" else "held_breakdown"
    return state.lower()
