"""twin validate: each shipped change gets its expected verdict, with evidence; rollback is verified.

The shipped change files run 8 h x 10 replications (see benchmarks/bench_validate.py);
here they run shortened to 3 h x 6 paired replications to keep CI fast. The
effects under test are large enough that the verdicts do not depend on that.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml

from twin.api import load, validate
from twin.model.change import Rollback

CHANGES = Path("scenarios/bottling/changes")


def shortened(name: str, hours: float = 3.0, replications: int = 6, **scenario_updates):
    loaded = load(CHANGES / name)
    sc = loaded.scenario
    run = sc.run.model_copy(update={"duration": hours * 3_600_000.0, "replications": replications})
    loaded.scenario = sc.model_copy(update={"run": run, **scenario_updates})
    return loaded


@pytest.fixture(scope="module")
def slow_fill(tmp_path_factory):
    out = tmp_path_factory.mktemp("slow")
    return validate(shortened("filler-v2-slow-fill.yaml"), report_dir=out, junit=out / "junit.xml"), out


def test_good_patch_is_go():
    r = validate(shortened("filler-v2-faster-refill.yaml"))
    assert r.verdict == "GO", r.explain()
    assert r.exit_code == 0
    names = [c.name for c in r.checks]
    assert any(n.startswith("after change: oee") for n in names)
    assert "rollback: state equals the pre-change snapshot" in names
    assert any(n.startswith("after rollback") for n in names)


def test_patch_that_costs_throughput_is_no_go_with_the_difference_and_its_interval(slow_fill):
    r, _ = slow_fill
    assert r.verdict == "NO_GO", r.explain()
    assert r.exit_code == 3
    oee = next(c for c in r.checks if c.name.startswith("after change: oee"))
    assert oee.status == "FAIL"
    rel = oee.evidence["relative_difference"]
    assert rel["ci"][1] < -0.02  # the whole interval is beyond the tolerance
    assert -0.20 < rel["mean"] < -0.08  # 300 ms instead of 250 ms costs about 13 %
    assert len(oee.evidence["pairs"]) == 6
    assert "oee" in r.explain() and "%" in r.explain()


def test_unsafe_patch_is_aborted_safety_with_a_counterexample_trace():
    r = validate(shortened("filler-v2-no-hh.yaml", hours=2.0, replications=2))
    assert r.verdict == "ABORTED_SAFETY", r.explain()
    assert r.exit_code == 5
    inv = next(c for c in r.checks if c.name == "invariant: tank_no_overflow")
    v = inv.evidence["violation"]
    assert v["t_ms"] > 3_600_000  # after the setpoint attack at 1 h
    assert any(e["signal"] == "tank.level" for e in v["trace"])
    assert all(v["t_ms"] - 10_000 <= e["t_ms"] <= v["t_ms"] for e in v["trace"])
    # rollback still ran, was verified, and the baseline program holds the tank afterwards
    rb = next(c for c in r.checks if c.kind == "rollback")
    assert rb.status == "PASS"
    post = next(c for c in r.checks if c.name == "after rollback: safety invariants hold")
    assert post.status == "PASS"


def test_setpoint_within_tolerance_is_go_and_beyond_is_no_go():
    ok = validate(shortened("setpoint-refill-within-tolerance.yaml"))
    assert ok.verdict == "GO", ok.explain()
    bad = validate(shortened("setpoint-refill-beyond-tolerance.yaml"))
    assert bad.verdict == "NO_GO", bad.explain()
    thr = next(c for c in bad.checks if c.name.startswith("after change: oee"))
    assert thr.status == "FAIL"
    # the setpoint went back on rollback
    rb = next(c for c in bad.checks if c.kind == "rollback")
    assert rb.status == "PASS"


def test_broken_baseline_is_inconclusive_never_go():
    r = validate(shortened("broken-baseline.yaml", replications=3))
    assert r.verdict == "INCONCLUSIVE", r.explain()
    assert r.exit_code == 4
    assert "baseline" in r.reason


def test_rollback_that_fails_verification_makes_it_no_go():
    loaded = shortened("filler-v2-faster-refill.yaml", hours=2.0, replications=3,
                       rollback=Rollback(steps=[]))
    r = validate(loaded)
    assert r.verdict == "NO_GO", r.explain()
    rb = next(c for c in r.checks if c.kind == "rollback")
    assert rb.status == "FAIL" and "program_hash" in rb.message
    items = rb.evidence["verification"]["items"]
    assert items["program_hash"]["ok"] is False


def test_too_few_replications_is_inconclusive_and_says_how_many():
    r = validate(shortened("filler-v2-faster-refill.yaml", hours=2.0, replications=1))
    assert r.verdict == "INCONCLUSIVE", r.explain()
    assert "at least 2" in r.explain()


def test_a_straddled_tolerance_is_inconclusive_with_the_replications_needed():
    from twin.model.change import KpiCheck
    from twin.validate.checks import kpi_check

    check = KpiCheck.model_validate({"kpi": "oee", "tolerance": {"vs_baseline": "-2%"}})
    base = [0.760, 0.772, 0.751, 0.768]
    cand = [0.752, 0.751, 0.738, 0.749]  # about -2 % on average, with spread
    c = kpi_check(check, base, cand, "after change")
    assert c.status == "INCONCLUSIVE"
    need = c.evidence["replications_needed"]
    assert need is None or need > 4
    assert "replications" in c.message
    clear = kpi_check(check, base, [b * 0.9 for b in base], "after change")
    assert clear.status == "FAIL"
    same = kpi_check(check, base, [b * 1.001 for b in base], "after change")
    assert same.status == "PASS"
    lower_better = KpiCheck.model_validate({"kpi": "scrap_ratio", "tolerance": {"vs_baseline": "+10%"}})
    assert kpi_check(lower_better, [0.01] * 3 + [0.011], [0.02] * 3 + [0.021], "x").status == "FAIL"
    assert kpi_check(lower_better, [0.01] * 3 + [0.011], [0.0095] * 3 + [0.0105], "x").status == "PASS"


def test_junit_xml_has_one_case_per_check(slow_fill):
    r, out = slow_fill
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    suites = list(xml) if not hasattr(xml, "name") or xml._tag == "testsuites" else [xml]
    cases = [case for suite in suites for case in suite]
    assert len(cases) == len(r.checks)
    failed = [case for case in cases if any(type(res).__name__ == "Failure" for res in case.result)]
    assert len(failed) == sum(1 for c in r.checks if c.status == "FAIL")
    assert {case.name for case in cases} == {c.name for c in r.checks}


def test_journal_holds_what_is_needed_to_replay(slow_fill):
    _, out = slow_fill
    j = json.loads((out / "journal.json").read_text())
    assert j["verdict"] == "NO_GO"
    assert j["scenario"]["hash"] and j["scenario"]["files"]
    assert all(len(h) == 64 for h in j["scenario"]["files"].values())
    assert j["seeds"] == [{"entropy": 42, "replication": r} for r in range(6)]
    assert j["change"]["candidate_program"] != j["change"]["baseline_program"]["filler_plc"]
    pair = j["pairs"][0]
    assert pair["candidate"]["rollback"]["ok"] is True
    assert set(pair["baseline"]["window1"]["kpis"]) >= {"oee", "throughput_per_h"}
    assert (out / "report.md").exists()


def test_dry_run_prints_the_plan_and_simulates_nothing():
    r = subprocess.run([sys.executable, "-m", "twin.cli", "validate", str(CHANGES / "filler-v2-faster-refill.yaml"),
                        "--dry-run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "10 paired replications" in r.stdout and "full download from the start" in r.stdout
    assert "oee vs_baseline -2%" in r.stdout


def test_cli_exit_code_follows_the_verdict(tmp_path):
    text = (CHANGES / "filler-v2-no-hh.yaml").read_text()
    text = text.replace("duration: 4h", "duration: 90m").replace("../", str(CHANGES.resolve().parent) + "/")
    f = tmp_path / "short.yaml"
    f.write_text(text)
    r = subprocess.run([sys.executable, "-m", "twin.cli", "validate", str(f), "-n", "2", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 5, r.stdout + r.stderr
    assert "ABORTED_SAFETY" in r.stdout


def test_validate_without_a_change_is_bad_input():
    r = subprocess.run([sys.executable, "-m", "twin.cli", "validate", "scenarios/bottling/baseline.yaml"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "nothing to validate" in r.stderr and "Traceback" not in r.stderr
