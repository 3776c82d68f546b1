"""From checks to one verdict, in order of severity.

ABORTED_SAFETY  a safety invariant broke in the candidate
INCONCLUSIVE    the baseline failed its own steady state (never a pass)
NO_GO           rollback failed verification (whatever else passed), or a hard check failed
INCONCLUSIVE    a hard check could not be decided with these replications
GO_WITH_WARNINGS only soft checks failed or were undecided
GO              every check passed
"""

from __future__ import annotations

from .checks import FAIL, INCONCLUSIVE, PASS, Check

GO, GO_WITH_WARNINGS, NO_GO = "GO", "GO_WITH_WARNINGS", "NO_GO"
INCONCLUSIVE_V, ABORTED_SAFETY = "INCONCLUSIVE", "ABORTED_SAFETY"
EXIT_CODES = {GO: 0, GO_WITH_WARNINGS: 1, NO_GO: 3, INCONCLUSIVE_V: 4, ABORTED_SAFETY: 5}


def decide(checks: list[Check]) -> tuple[str, str]:
    """(verdict, the reason in one line)."""
    def first(pred):
        return next((c for c in checks if pred(c)), None)

    c = first(lambda c: c.kind == "invariant" and c.status == FAIL)
    if c:
        return ABORTED_SAFETY, f"{c.name}: {c.message}"
    c = first(lambda c: c.kind == "precondition" and c.status != PASS)
    if c:
        return INCONCLUSIVE_V, f"the baseline does not meet its own steady state ({c.name}: {c.message})"
    c = first(lambda c: c.kind == "rollback" and c.status == FAIL)
    if c:
        return NO_GO, f"rollback failed verification: {c.message}"
    c = first(lambda c: c.severity == "hard" and c.status == FAIL)
    if c:
        return NO_GO, f"{c.name}: {c.message}"
    c = first(lambda c: c.severity == "hard" and c.status == INCONCLUSIVE)
    if c:
        return INCONCLUSIVE_V, f"{c.name}: {c.message}"
    c = first(lambda c: c.severity == "soft" and c.status != PASS)
    if c:
        return GO_WITH_WARNINGS, f"{c.name}: {c.message}"
    return GO, "every check passed"
