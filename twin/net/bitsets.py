"""Host sets as int bitmasks (bit i = host i): classes, first-match per destination, iteration."""

from __future__ import annotations


def classes(members: int, masks) -> list[int]:
    """Split a host set into classes no mask tells apart (partition refinement)."""
    out = [members]
    for m in set(masks):
        nxt = []
        for c in out:
            inside, outside = c & m, c & ~m
            nxt.extend(x for x in (inside, outside) if x)
        out = nxt
    return out


def allowed(rules, src_bit: int, dsts: int, default_allow: bool) -> int:
    """The destinations (of `dsts`) one source reaches at one conduit, for one atom whose relevant rules are
    `rules`: first match wins, per destination, all destinations at once."""
    undecided, ok = dsts, 0
    for r in rules:
        if r.src & src_bit:
            hit = undecided & r.dst
            if r.allow:
                ok |= hit
            undecided &= ~r.dst
            if not undecided:
                return ok
    return ok | (undecided if default_allow else 0)


def bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
