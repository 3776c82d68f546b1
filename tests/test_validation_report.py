"""The validation report and its plots, built from real (short) validations of the reference line.

Two validations, each run once per module (about 50 s together on two cores):
- NO_GO: the refill setpoint moved to 3 % at 1 h (the line starves), 2 h runs, 3 paired replications.
  (The slow-fill program needs more: with 2 h runs and 3 replications one replication loses only 3 %
  of its OEE and the verdict is INCONCLUSIVE.)
- ABORTED_SAFETY: the filler program without its high-high interlock, attacked at 1 h; 1.5 h runs,
  2 paired replications; the candidate overflows the tank a few minutes after the attack.
"""

from __future__ import annotations

import copy
import json
import re
import struct
from pathlib import Path

import pytest

import twin.api
from twin.report import validation_plots
from twin.report.markdown import hms
from twin.report.validation_report import kpi_evidence_rows, render, write_validation_report
from twin.validate.verdict import EXIT_CODES

CHANGES = Path(__file__).resolve().parents[1] / "scenarios" / "bottling" / "changes"
MS_PER_H = 3_600_000.0
SECTIONS = ["# Validation report:", "> ## Verdict:", "## What was validated", "## Checks",
            "## Baseline against candidate over time", "## KPI evidence", "## Rollback",
            "### Verification, replication", "## Safety", "## Timeline of replication 0", "## Files (sha256)"]


def _validate(name: str, hours: float, replications: int, out: Path):
    loaded = twin.api.load(CHANGES / name)
    sc = loaded.scenario
    loaded.scenario = sc.model_copy(update={"run": sc.run.model_copy(
        update={"duration": hours * MS_PER_H, "replications": replications})})
    # worker processes get the loaded (shortened) scenario pickled, not re-read from its file
    result = twin.api.validate(loaded, report_dir=out)
    md = (out / "report.md").read_text(encoding="utf-8")
    return result, md


@pytest.fixture(scope="module")
def nogo(tmp_path_factory):
    out = tmp_path_factory.mktemp("nogo")
    result, md = _validate("setpoint-refill-beyond-tolerance.yaml", 2.0, 3, out)
    return result, out, md


@pytest.fixture(scope="module")
def aborted(tmp_path_factory):
    out = tmp_path_factory.mktemp("aborted")
    result, md = _validate("filler-v2-no-hh.yaml", 1.5, 2, out)
    return result, out, md


@pytest.fixture(params=["nogo", "aborted"])
def case(request):
    return request.getfixturevalue(request.param)


def _images(md: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)


def _rows(md: str, first_cell: str) -> list[list[str]]:
    out = []
    for line in md.splitlines():
        if line.startswith(f"| {first_cell} |"):
            out.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return out


def _row(md: str, first_cell: str) -> list[str]:
    rows = _rows(md, first_cell)
    assert rows, f"no table row {first_cell!r}"
    return rows[0]


def _section(md: str, start: str, end: str) -> str:
    return md[md.index(start):md.index(end)]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ----------------------------------------------------------------- verdicts
def test_the_fixtures_give_the_expected_verdicts(nogo, aborted):
    assert nogo[0].verdict == "NO_GO"
    assert aborted[0].verdict == "ABORTED_SAFETY"


def test_sections_in_order(case):
    _, _, md = case
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions)


def test_banner_states_verdict_reason_and_exit_code(case):
    result, _, md = case
    j = result.journal
    head = md[:md.index("## What was validated")]
    assert j["verdict"] in head and j["reason"] in head
    assert f"exits with **{EXIT_CODES[j['verdict']]}** for `{j['verdict']}`" in head
    assert head.index(j["reason"]) < 1200          # the reason is at the top, not buried


def test_header_names_change_plan_and_run(nogo, aborted):
    # a setpoint changed at 1 h
    j, md = nogo[0].journal, nogo[2]
    sp = j["change"]["setpoint"]
    before = j["pairs"][0]["candidate"]["rollback"]["items"]["setpoint"]["expected"]
    assert _row(md, "Change")[1] == f"setpoint `{sp['plc']}.{sp['tag']}`: {before:g} → {sp['value']:g}"
    assert _row(md, "Applied")[1] == "written at 1:00:00"
    p = j["run"]["plan"]
    assert _row(md, "KPI window 1 (change in effect)")[1] == \
        f"{hms(p['window_start_ms'])} – {hms(p['end_ms'])} (1 h)"
    assert _row(md, "Rollback")[1].startswith(f"at {hms(p['end_ms'])} (restore_baseline)")
    assert _row(md, "Recovery allowance")[1] == f"10 min (until {hms(p['end_ms'] + p['recover_ms'])})"
    assert _row(md, "Replications")[1].startswith(f"{j['run']['replications']} paired")
    assert _row(md, "Seed")[1].startswith(str(j["seed"]))
    assert _row(md, "Scenario hash")[1] == f"`{j['scenario']['hash'][:12]}`"
    # a program download, rolled back early after the violation
    j, md = aborted[0].journal, aborted[2]
    before = j["change"]["baseline_program"]["filler_plc"]
    assert _row(md, "Program hash (sha256)")[1] == f"`{before[:12]}` → `{j['change']['candidate_program'][:12]}`"
    assert "T0836" in _row(md, "Injection (both runs)")[1]
    rb = j["pairs"][0]["candidate"]["rollback"]["at_ms"]
    assert f"here early, after the violation:** {hms(rb)} (replication 0)" in _row(md, "Rollback")[1]


# ------------------------------------------------------------------- checks
def test_every_check_is_listed_failing_first(case):
    result, _, md = case
    section = _section(md, "## Checks", "## Baseline against candidate")
    checks = result.journal["checks"]
    lines = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(lines) == len(checks)
    for c in checks:
        assert any(f"| {c['name']} | {c['message']} |" in line for line in lines), c["name"]
    order = {"**FAIL**": 0, "**INCONCLUSIVE**": 1, "PASS": 2}
    ranks = [order[line.split(" | ")[0][2:]] for line in lines]
    assert ranks == sorted(ranks)
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in ("FAIL", "INCONCLUSIVE", "PASS")}
    assert f"{len(checks)} checks: " in section
    for s, k in counts.items():
        if k:
            assert f"{k} {s}" in section


# ------------------------------------------------------------- KPI evidence
def _ci_text(iv: dict, fmt) -> str:
    return f"{fmt(iv['mean'])} ({fmt(iv['ci'][0])} … {fmt(iv['ci'][1])})"


def test_kpi_evidence_matches_the_journal(nogo):
    result, _, md = nogo
    j = result.journal
    section = _section(md, "## KPI evidence", "## Rollback")
    kpi_checks = [c for c in j["checks"] if c["kind"] == "kpi"]
    assert kpi_checks
    lines = {line.split(" | ")[0][2:]: line for line in section.splitlines() if line.startswith("| after ")}
    for c in kpi_checks:
        ev = c["evidence"]
        pairs = ev["pairs"]
        label = {"oee": "OEE", "throughput_per_h": "Throughput (bottles/h)"}[ev["kpi"]]
        cells = [x.strip() for x in lines[f"{ev['phase']}: {label}"].strip().strip("|").split(" | ")]
        assert cells[1] == (c["status"] if c["status"] == "PASS" else f"**{c['status']}**")
        assert cells[2] == str(len(pairs))
        b = sum(p[0] for p in pairs) / len(pairs)
        x = sum(p[1] for p in pairs) / len(pairs)
        if ev["kpi"] == "oee":
            assert cells[3] == f"{100 * b:.2f} %" and cells[4] == f"{100 * x:.2f} %"
            assert cells[5] == _ci_text(ev["difference"], lambda v: f"{100 * v:+.2f} pp")
            assert cells[6] == _ci_text(ev["relative_difference"], lambda v: f"{100 * v:+.2f} %")
            assert cells[7] == f"relative change ≥ {100 * -0.02:+g} % vs baseline"
        else:    # absolute range: decided on the candidate's own interval
            assert cells[3] == f"{b:,.0f} /h" and cells[4] == f"{x:,.0f} /h"
            assert cells[7] == "candidate mean ≥ 7,000 /h"
            lo, hi = ev["candidate"]["ci"]
            assert cells[8].startswith(f"candidate CI {lo:,.0f} /h … {hi:,.0f} /h")
    fail = next(c for c in kpi_checks if c["status"] == "FAIL" and c["evidence"]["kpi"] == "oee")
    assert "relative CI wholly below -2 %" in lines[f"{fail['evidence']['phase']}: OEE"]


def test_per_replication_pairs(nogo):
    result, _, md = nogo
    section = _section(md, "### Per replication (baseline → candidate)", "## Rollback")
    oee = next(c for c in result.journal["checks"] if c["kind"] == "kpi" and c["evidence"]["kpi"] == "oee")
    for r, (b, x) in enumerate(oee["evidence"]["pairs"]):
        assert f"| {r} | {100 * b:.2f} % → {100 * x:.2f} % ({100 * (x - b) / b:+.2f} %) |" in section


def test_kpi_evidence_when_the_candidate_was_stopped(aborted):
    _, _, md = aborted
    section = _section(md, "## KPI evidence", "## Rollback")
    assert "not evaluated: the candidate run was stopped by a safety invariant" in section
    assert "No KPI check could be evaluated" in section
    assert "paired_differences.png" not in md


def test_evidence_rows_helper_agrees_with_checks(nogo):
    j = nogo[0].journal
    rows = kpi_evidence_rows(j)
    assert [r["check"]["name"] for r in rows] == [c["name"] for c in j["checks"] if c["kind"] == "kpi"]
    for r in rows:
        if r["check"]["evidence"].get("relative_difference"):
            assert r["relative_difference"] == r["check"]["evidence"]["relative_difference"]


# ----------------------------------------------------------------- rollback
def test_rollback_verification_table(case):
    result, _, md = case
    j = result.journal
    section = _section(md, "## Rollback", "## Safety")
    items = j["pairs"][0]["candidate"]["rollback"]["items"]
    ph = items["program_hash"]
    assert _row(section, "program hash") == ["program hash", f"`{ph['expected'][:12]}`", f"`{ph['actual'][:12]}`",
                                             "equal"]
    assert _row(section, "mode") == ["mode", items["mode"]["expected"], items["mode"]["actual"], "equal"]
    for name, value in items["retained_memory"]["expected"].items():
        assert f"| `{name}` | {value:g} |" in section
    if "setpoint" in items:
        assert _row(section, "setpoint")[1:] == [f"{items['setpoint']['expected']:g}",
                                                 f"{items['setpoint']['actual']:g}", "equal"]
    assert f"Rollback verified in all {len(j['pairs'])} replications" in section
    per = section[section.index("### Per replication"):]
    for p in j["pairs"]:
        row = _row(per, str(p["replication"]))
        assert row[2] == hms(p["candidate"]["rollback"]["at_ms"])
        assert row[-2] == "yes"


def test_a_failed_rollback_is_shown(nogo):
    j = copy.deepcopy(nogo[0].journal)
    rb = j["pairs"][1]["candidate"]["rollback"]
    rb["ok"] = False
    rb["items"]["retained_memory"]["actual"] = dict(rb["items"]["retained_memory"]["actual"],
                                                    **{"Filler.level_lo_sp": 3.0})
    rb["items"]["retained_memory"]["ok"] = False
    md = render(j, {})
    section = _section(md, "## Rollback", "## Safety")
    assert "**Rollback failed its verification** in replication(s) 1" in section
    assert "### Verification, replication 1" in section
    assert "| `Filler.level_lo_sp` | 60 | 3 | **DIFFERENT** |" in section
    assert "different: `Filler.level_lo_sp` = 3" in section
    assert _row(section[section.index("### Per replication"):], "1")[-2] == "**NO**"


# ------------------------------------------------------------------- safety
def test_counterexample_trace(aborted):
    result, out, md = aborted
    j = result.journal
    section = _section(md, "## Safety", "## Timeline of replication 0")
    assert "**BROKEN** in 2 of 2" in _row(section, "`tank_no_overflow`")[3]
    assert _row(section, "`tank_no_overflow`")[2] == "held"          # the baseline trips its interlock
    v = j["pairs"][0]["candidate"]["violations"][0]
    assert f"### Counterexample: `tank_no_overflow` at {hms(v['t_ms'], 3)} (replication 0, candidate)" in section
    assert f"level_pct = {v['level_pct']:g}" in section
    level = [e for e in v["trace"] if e["signal"] == "tank.level"]
    row = _row(section, "`tank.level` ★")
    assert row[1] == f"{level[-1]['value']:g}" and row[2] == hms(level[-1]["t_ms"], 3)
    assert row[4] == str(len(level))
    assert _row(section, "`tank.inlet_valve` ★")[1] == "TRUE"      # the inlet stayed open: no interlock
    assert "![Counterexample: tank_no_overflow](counterexample.png)" in section
    assert (out / "counterexample.png").is_file()
    # the other replication's violation is listed too
    v1 = j["pairs"][1]["candidate"]["violations"][0]
    assert f"| 1 | candidate | `tank_no_overflow` | {hms(v1['t_ms'], 3)} |" in section


def test_no_counterexample_without_a_violation(nogo):
    _, out, md = nogo
    assert "No invariant was broken: there is no counterexample." in md
    assert not (out / "counterexample.png").exists()
    assert "counterexample.png" not in md


def test_timeline_of_replication_0(aborted):
    result, _, md = aborted
    section = md[md.index("## Timeline of replication 0"):]
    events = [e for e in result.journal["pairs"][0]["candidate"]["events"] if e["event"] in ("attack", "violation",
                                                                                            "rollback")]
    assert [e["event"] for e in events] == ["attack", "violation", "rollback"]
    for e in events:
        assert f"| {hms(e['t_ms'], 1)} | candidate | `{e['event']}` |" in section
    assert "set = {level_hi_sp: 200}" in section


# -------------------------------------------------------------------- plots
EXPECTED_PNGS = {
    "nogo": {"kpi_timelines.png", "paired_differences.png", "rollback_recovery.png"},
    "aborted": {"kpi_timelines.png", "rollback_recovery.png", "counterexample.png"},
}


@pytest.mark.parametrize("name", ["nogo", "aborted"])
def test_pngs_exist_are_valid_and_not_blank(name, request):
    import matplotlib.image as mpimg

    _, out, md = request.getfixturevalue(name)
    images = _images(md)
    assert set(images) == EXPECTED_PNGS[name]
    assert {p.name for p in out.glob("*.png")} == EXPECTED_PNGS[name]
    for image in images:
        png = out / image
        w, h = _png_size(png)
        assert 800 <= w <= 1800 and 300 <= h <= 1400, (image, w, h)
        assert png.stat().st_size > 20_000, image
        img = mpimg.imread(png)
        assert img[..., :3].std() > 0.05, image


def test_report_is_rebuilt_from_the_journal_file(aborted, tmp_path):
    """The report reads only the journal: the file on disk gives the same Markdown."""
    _, out, md = aborted
    journal = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    assert journal["kind"] == "validation"
    again = write_validation_report(journal, tmp_path).read_text(encoding="utf-8")
    assert again == md
    assert {p.name for p in tmp_path.glob("*.png")} == EXPECTED_PNGS["aborted"]


def test_counterexample_for_another_invariant_without_samples(nogo, tmp_path):
    """A guard-door violation in replication 1 (no samples kept): the plot is drawn from the trace alone."""
    j = copy.deepcopy(nogo[0].journal)
    t = 5_000_000.0
    trace = [{"t_ms": t - 8_000.0, "signal": "safety.guard_closed", "value": False},
             {"t_ms": t - 6_000.0, "signal": "filler.release", "value": True},
             {"t_ms": t - 5_990.0, "signal": "filler.release", "value": False},
             {"t_ms": t - 20.0, "signal": "conveyors.run", "value": True},
             {"t_ms": t - 20.0, "signal": "conveyors.running", "value": True}]
    cand = j["pairs"][1]["candidate"]
    cand["violations"] = [{"invariant": "no_motion_with_guard_open", "t_ms": t, "condition": "guard open",
                           "trace": trace}]
    cand["invariants"]["no_motion_with_guard_open"] = False
    path = validation_plots.counterexample(j, tmp_path)
    assert path is not None and _png_size(path)[0] >= 800
    md = render(j, {"counterexample": path})
    section = _section(md, "## Safety", "## Timeline")
    assert "### Counterexample: `no_motion_with_guard_open` at 1:23:20.000 (replication 1, candidate)" in section
    assert "Detail: condition = guard open." in section
    assert _row(section, "`safety.guard_closed` ★")[1:3] == ["FALSE", "1:23:12.000"]
    assert _row(section, "`conveyors.run` ★")[1] == "TRUE"
    assert _row(section, "`safety.estop_ok` ★")[1] == "not recorded"
    assert "**BROKEN** in 1 of 3" in _row(section, "`no_motion_with_guard_open`")[3]
