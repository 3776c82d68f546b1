"""Sets of integers as sorted, merged half-open intervals: ports, function codes, Modbus addresses.

YAML writes them inclusively and people read them that way: `8`, `"0-99"`, or a list of those.
"""

from __future__ import annotations

Intervals = tuple[tuple[int, int], ...]  # ((lo, hi), ...) half-open, sorted, disjoint, not touching


def merge(pairs) -> Intervals:
    out: list[list[int]] = []
    for lo, hi in sorted(p for p in pairs if p[0] < p[1]):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def parse(value, lo_bound: int, hi_bound: int, what: str) -> Intervals:
    """`8`, `"0-99"` (inclusive) or a list of those -> Intervals; ValueError names the bad item."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"an empty list of {what}s matches nothing; leave the key out to match any")
    pairs = []
    for item in items:
        lo, hi = _item(item, what)
        if not (lo_bound <= lo <= hi <= hi_bound):
            raise ValueError(f"{what} {_show(lo, hi)} is outside {lo_bound}-{hi_bound}")
        pairs.append((lo, hi + 1))
    return merge(pairs)


def _item(item, what: str) -> tuple[int, int]:
    if isinstance(item, bool):
        raise ValueError(f"expected a {what} like 8 or a range like \"0-99\", got a boolean")
    if isinstance(item, int):
        return item, item
    if isinstance(item, str):
        parts = item.replace(" ", "").split("-")
        try:
            if len(parts) == 1:
                return int(parts[0]), int(parts[0])
            if len(parts) == 2:
                lo, hi = int(parts[0]), int(parts[1])
                if lo > hi:
                    raise ValueError(f"{what} range {item!r} runs backwards; write low-high")
                return lo, hi
        except ValueError as exc:
            if "backwards" in str(exc):
                raise
    raise ValueError(f"expected a {what} like 8 or a range like \"0-99\" (inclusive), got {item!r}")


def contains(ivs: Intervals, lo: int, hi: int) -> bool:
    """[lo, hi) lies entirely within one interval (they are merged, so within the set)."""
    for a, b in ivs:
        if a <= lo and hi <= b:
            return True
        if a > lo:
            return False
    return False


def overlaps(ivs: Intervals, lo: int, hi: int) -> bool:
    for a, b in ivs:
        if a < hi and lo < b:
            return True
        if a >= hi:
            return False
    return False


def subset(inner: Intervals, outer: Intervals) -> bool:
    return all(contains(outer, lo, hi) for lo, hi in inner)


def intersect(x: Intervals, y: Intervals) -> Intervals:
    return merge((max(a, c), min(b, d)) for a, b in x for c, d in y if max(a, c) < min(b, d))


def complement(ivs: Intervals, lo: int, hi: int) -> Intervals:
    out, start = [], lo
    for a, b in ivs:
        if a > start:
            out.append((start, min(a, hi)))
        start = max(start, b)
    if start < hi:
        out.append((start, hi))
    return merge(out)


def cut(domain: Intervals, points) -> list[tuple[int, int]]:
    """Split `domain` at every point inside it: the pieces on which no interval edge falls."""
    pts = sorted(set(points))
    out = []
    for lo, hi in domain:
        start = lo
        for p in pts:
            if start < p < hi:
                out.append((start, p))
                start = p
        out.append((start, hi))
    return out


def edges(ivs: Intervals):
    for lo, hi in ivs:
        yield lo
        yield hi


def show(ivs: Intervals) -> str:
    return ",".join(_show(lo, hi - 1) for lo, hi in ivs)


def _show(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"
