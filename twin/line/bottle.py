"""A bottle's history as it moves down the line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Bottle:
    id: int
    volume: float = 0.0        # litres filled
    defects: list[str] = field(default_factory=list)
    flagged: bool = False      # inspection saw a defect: it must be rejected
    rejected: bool = False

    @property
    def good(self) -> bool:
        return not self.defects
