"""An example of a plant's own pre-deployment suite, run through the twin's pytest plugin.

Every change file in approved/ must be GO on the twin before it may go to the
line. Options: --twin-replications N, --twin-report DIR (journal, report and
JUnit XML per change).
"""

import pytest


@pytest.mark.twin_changes("scenarios/bottling/predeploy/approved")
def test_approved_change_is_go(twin, twin_change):
    result = twin.validate(twin_change)
    assert result.verdict == "GO", result.explain()


def test_the_unsafe_filler_patch_is_refused(twin):
    result = twin.validate("scenarios/bottling/changes/filler-v2-no-hh.yaml", replications=2)
    assert result.verdict == "ABORTED_SAFETY", result.explain()
