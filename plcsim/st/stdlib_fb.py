"""IEC 61131-3 standard function blocks (timers, counters, edges, bistables).

They follow the object protocol of compiled FBs: members are ``v_<name>``
slots, ``__call__`` executes one invocation, and ``_rt.now_ms`` is the PLC
clock of the current scan. Timer behaviour is defined on that clock only,
so virtual-time runs are reproducible to the millisecond.
"""

from __future__ import annotations

from operator import attrgetter

from ..iec_types import ELEMENTARY

BOOL, INT, TIME = ELEMENTARY["BOOL"], ELEMENTARY["INT"], ELEMENTARY["TIME"]
IN, OUT = "VAR_INPUT", "VAR_OUTPUT"


class StdFb:
    # (name, type, section) of the visible members, in declaration order
    MEMBERS: tuple = ()
    # hidden state that snapshots must carry
    HIDDEN: tuple = ()
    __slots__ = ("_rt",)

    def __init__(self, rt) -> None:
        self._rt = rt
        for name, typ, _section in self.MEMBERS:
            setattr(self, "v_" + name.lower(), typ.default())
        for name, default in self.HIDDEN:
            setattr(self, name, default)

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        if cls.MEMBERS:
            slots = cls.state_slots()
            # everything that can influence a later scan (for idle-scan detection)
            key = attrgetter(*slots)
            cls._key = lambda self, key=key: key(self)
            # without ET, for programs that never read ET: a running timer then changes
            # nothing but ET until it expires, so it alone keeps no scan busy
            key_no_et = attrgetter(*[x for x in slots if x != "v_et"])
            cls._key_no_et = lambda self, key=key_no_et: key(self)

    def next_event_ms(self) -> int | None:
        """When this timer's Q will change by itself (None if it will not)."""
        return None

    @classmethod
    def state_slots(cls) -> list[str]:
        return list(_slots(cls.MEMBERS, cls.HIDDEN))


def _slots(members, hidden):
    return tuple("v_" + n.lower() for n, _t, _s in members) + tuple(n for n, _d in hidden)


class _Timer(StdFb):
    __slots__ = ()

    def next_event_ms(self) -> int | None:
        return self._start + self.v_pt if self._running else None


class TON(_Timer):
    """On-delay: Q rises when IN has been TRUE for PT."""

    def next_event_ms(self) -> int | None:
        # an expired TON keeps running while IN stays TRUE, but nothing changes any more
        return self._start + self.v_pt if self._running and not self.v_q else None

    MEMBERS = (("IN", BOOL, IN), ("PT", TIME, IN), ("Q", BOOL, OUT), ("ET", TIME, OUT))
    HIDDEN = (("_running", False), ("_start", 0))
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        if self.v_in:
            now = self._rt.now_ms
            if not self._running:
                self._running, self._start = True, now
            et = now - self._start
            if et >= self.v_pt:
                self.v_q, self.v_et = True, self.v_pt
            else:
                self.v_q, self.v_et = False, et
        else:
            self._running, self.v_q, self.v_et = False, False, 0


class TOF(_Timer):
    """Off-delay: Q follows IN up at once and falls PT after IN fell."""

    MEMBERS = TON.MEMBERS
    HIDDEN = (("_running", False), ("_start", 0))
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        if self.v_in:
            self.v_q, self.v_et, self._running = True, 0, False
            return
        if self.v_q and not self._running:
            self._running, self._start = True, self._rt.now_ms
        if self._running:
            et = self._rt.now_ms - self._start
            if et >= self.v_pt:
                self.v_q, self.v_et, self._running = False, self.v_pt, False
            else:
                self.v_et = et


class TP(_Timer):
    """Pulse: a rising edge of IN gives a Q pulse of exactly PT, not retriggerable."""

    MEMBERS = TON.MEMBERS
    HIDDEN = (("_running", False), ("_start", 0), ("_prev_in", False))
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        now = self._rt.now_ms
        if self.v_in and not self._prev_in and not self._running and not self.v_q:
            self._running, self._start, self.v_q = True, now, True
        if self._running:
            et = now - self._start
            if et >= self.v_pt:
                self.v_q, self.v_et, self._running = False, self.v_pt, False
            else:
                self.v_et = et
        if not self._running and not self.v_in:
            self.v_et = 0
        self._prev_in = self.v_in


class R_TRIG(StdFb):
    MEMBERS = (("CLK", BOOL, IN), ("Q", BOOL, OUT))
    HIDDEN = (("_m", False),)
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        self.v_q = self.v_clk and not self._m
        self._m = self.v_clk


class F_TRIG(StdFb):
    """As IEC 61131-3 writes it: Q := NOT CLK AND NOT M; M := NOT CLK.

    With M initially FALSE this gives one pulse on the first call if CLK is
    FALSE, exactly as the standard (and OpenPLC, CODESYS) do.
    """

    MEMBERS = R_TRIG.MEMBERS
    HIDDEN = (("_m", False),)
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        self.v_q = not self.v_clk and not self._m
        self._m = not self.v_clk


class _Counter(StdFb):
    __slots__ = ()
    PV_MAX, PV_MIN = INT.max, INT.min


class CTU(_Counter):
    MEMBERS = (("CU", BOOL, IN), ("R", BOOL, IN), ("PV", INT, IN), ("Q", BOOL, OUT), ("CV", INT, OUT))
    HIDDEN = (("_cu", False),)
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        rising = self.v_cu and not self._cu
        self._cu = self.v_cu
        if self.v_r:
            self.v_cv = 0
        elif rising and self.v_cv < self.PV_MAX:
            self.v_cv += 1
        self.v_q = self.v_cv >= self.v_pv


class CTD(_Counter):
    MEMBERS = (("CD", BOOL, IN), ("LD", BOOL, IN), ("PV", INT, IN), ("Q", BOOL, OUT), ("CV", INT, OUT))
    HIDDEN = (("_cd", False),)
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        falling = self.v_cd and not self._cd
        self._cd = self.v_cd
        if self.v_ld:
            self.v_cv = self.v_pv
        elif falling and self.v_cv > self.PV_MIN:
            self.v_cv -= 1
        self.v_q = self.v_cv <= 0


class CTUD(_Counter):
    MEMBERS = (("CU", BOOL, IN), ("CD", BOOL, IN), ("R", BOOL, IN), ("LD", BOOL, IN), ("PV", INT, IN),
               ("QU", BOOL, OUT), ("QD", BOOL, OUT), ("CV", INT, OUT))
    HIDDEN = (("_cu", False), ("_cd", False))
    __slots__ = _slots(MEMBERS, HIDDEN)

    def __call__(self) -> None:
        up = self.v_cu and not self._cu
        down = self.v_cd and not self._cd
        self._cu, self._cd = self.v_cu, self.v_cd
        if self.v_r:
            self.v_cv = 0
        elif self.v_ld:
            self.v_cv = self.v_pv
        elif not (up and down):
            if up and self.v_cv < self.PV_MAX:
                self.v_cv += 1
            elif down and self.v_cv > self.PV_MIN:
                self.v_cv -= 1
        self.v_qu = self.v_cv >= self.v_pv
        self.v_qd = self.v_cv <= 0


class SR(StdFb):
    """Set-dominant bistable."""

    MEMBERS = (("S1", BOOL, IN), ("R", BOOL, IN), ("Q1", BOOL, OUT))
    __slots__ = _slots(MEMBERS, ())

    def __call__(self) -> None:
        self.v_q1 = self.v_s1 or (not self.v_r and self.v_q1)


class RS(StdFb):
    """Reset-dominant bistable."""

    MEMBERS = (("S", BOOL, IN), ("R1", BOOL, IN), ("Q1", BOOL, OUT))
    __slots__ = _slots(MEMBERS, ())

    def __call__(self) -> None:
        self.v_q1 = not self.v_r1 and (self.v_s or self.v_q1)


STANDARD_FBS: dict[str, type[StdFb]] = {
    c.__name__: c for c in (TON, TOF, TP, R_TRIG, F_TRIG, CTU, CTD, CTUD, SR, RS)
}
