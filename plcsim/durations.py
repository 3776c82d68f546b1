"""Durations on the command line and in config: '10ms', '1.5s', '2m', '1h', 'T#1s500ms'."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", re.IGNORECASE)
_SCALE = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class DurationError(ValueError):
    pass


def parse_duration_ms(text: str) -> int:
    """Parse a duration into whole milliseconds; a bare number means milliseconds."""
    s = str(text).strip()
    if s.upper().startswith(("T#", "TIME#")):
        s = s.split("#", 1)[1]
    s = s.replace("_", "")
    if re.fullmatch(r"\d+", s):
        return int(s)
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _SCALE[m.group(2).lower()]
        pos = m.end()
    if pos != len(s) or not s:
        raise DurationError(f"bad duration {text!r}; use e.g. 10ms, 1.5s, 2m, 1h30m")
    if total != int(total):
        raise DurationError(f"duration {text!r} has a sub-millisecond part")
    return int(total)
