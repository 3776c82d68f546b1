"""Bad scenario input: every mistake is one located error (file, line, field), never a traceback.

Each case copies the shipped scenario folder (scenarios/bottling) into a
temporary folder and applies one targeted edit to one file. The expected line
is computed from the edited text (the line holding a given fragment), not
hard-coded. Most cases go through the Python API (`twin.api.load`); a
representative subset also runs the real CLI in a subprocess and checks the
one-line message and exit code 2.

Loading runs with the case folder as the working directory and a relative
path, so the reported files are short ("line.yaml", "plc/filler.st") and the
compiled ST programs are shared between cases (the compiler caches by source
and file name), which keeps the file fast.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from twin.api import ScenarioError, load

SRC = Path(__file__).resolve().parents[1] / "scenarios" / "bottling"
S, L, P = "baseline.yaml", "line.yaml", "plcs.yaml"
FILLER, CAPPER, QA, LINE_ST = "plc/filler.st", "plc/capper.st", "plc/qa.st", "plc/line.st"
FLOW_NAMES = ["infeed", "b_in", "filler", "b_fill", "capper", "b_cap", "labeler", "b_lab", "inspection", "b_insp",
              "packer", "b_pack", "sink"]
FLOW = f"flow: [{', '.join(FLOW_NAMES)}]"
RUN_BLOCK = "run:\n  mode: virtual\n  duration: 8h\n  warmup: 30m\n  replications: 1\n  sample: 1m\n"


@dataclass(frozen=True)
class Case:
    id: str
    file: str                    # the file edited, relative to the scenario folder
    old: str | None              # text replaced (it must occur exactly once); None: `new` is the whole file
    new: str | bytes
    at: str | int | None         # fragment of the offending line of `file`, or a line number
    field: str                   # dotted path of the offending field ("" for whole-file errors)
    msg: str                     # a fragment of the message
    rename: tuple[str, str] | None = None  # first rename a name everywhere in the file (each case is one mistake)
    cli: bool = False            # also run the real CLI on it


def C(id, file, old, new, at, field, msg, **kw) -> Case:  # noqa: N802 - reads like a table row
    return Case(id, file, old, new, at, field, msg, **kw)


CASES = [
    # --- YAML syntax -------------------------------------------------------------------------------------------
    C("yaml-indent-too-deep", S, "  warmup: 30m", "   warmup: 30m", "   warmup: 30m", "run",
      "YAML syntax error: mapping values are not allowed here"),
    C("yaml-indent-too-shallow", P, "  qa_plc:", " qa_plc:", " qa_plc:", "plcs",
      "the indentation of this line does not match the lines before it"),
    C("yaml-unclosed-bracket", L, "b_pack, sink]", "b_pack, sink", "flow: [infeed", "flow",
      "the flow sequence '[' opened here is not closed", cli=True),
    C("yaml-unclosed-brace", P, "{program: plc/qa.st, cycle: 10ms}", "{program: plc/qa.st, cycle: 10ms",
      "qa_plc:", "plcs.qa_plc", "the flow mapping '{' opened here is not closed"),
    C("yaml-unclosed-quote", S, 'one 8-hour shift"', "one 8-hour shift", "title:", "metadata.title",
      "the quoted string opened here is not closed"),
    C("yaml-tab-indent", S, "  mode: virtual", "\tmode: virtual", "\tmode: virtual", "run",
      "a tab character; YAML indents with spaces only", cli=True),
    C("yaml-duplicate-key", S, "  replications: 1\n", "  replications: 1\n  duration: 4h\n", "duration: 4h",
      "run.duration", "duplicate key (first at line"),
    C("yaml-duplicate-key-flow-mapping", L, "b_in: {capacity: 60}", "b_in: {capacity: 60, capacity: 70}",
      "b_in: {capacity: 60, capacity: 70}", "buffers.b_in.capacity", "duplicate key"),
    C("yaml-duplicate-station", L, "  sink:\n    kind: sink\n", "  sink:\n    kind: sink\n  filler:\n    kind: sink\n",
      "  filler:\n    kind: sink", "stations.filler", "duplicate key"),
    C("yaml-second-document", S, None, (SRC / S).read_text() + "---\nrun: {duration: 1h}\n", "---", "",
      "a second document ('---')"),
    C("yaml-key-read-as-boolean", L, "  b_pack: {capacity: 5}", "  b_pack: {capacity: 5}\n  on: {capacity: 5}",
      "  on:", "buffers.on", "key 'on' is read as a boolean, not a name; quote it"),
    C("yaml-key-read-as-number", S, "plcs: plcs.yaml\n", "plcs: plcs.yaml\n1: x\n", "1: x", "1",
      "key '1' is read as a number"),
    C("yaml-undefined-alias", S, "line: line.yaml", "line: *line_file", "*line_file", "line",
      "found undefined alias 'line_file'"),
    # --- unknown keys, at several depths, with suggestions -----------------------------------------------------
    C("unknown-top-key", S, "metadata:", "metdata:", "metdata:", "metdata", "did you mean 'metadata'?"),
    C("unknown-run-key", S, "warmup:", "warmpu:", "warmpu:", "run.warmpu", "did you mean 'warmup'?"),
    C("unknown-key-no-suggestion", S, "  sample: 1m\n", "  sample: 1m\n  colour: blue\n", "colour:", "run.colour",
      "valid keys: mode, duration, warmup, replications, sample"),
    C("unknown-station-key", L, "defect_rate: 0.002", "defect_rat: 0.002", "defect_rat:", "stations.capper.defect_rat",
      "did you mean 'defect_rate'?"),
    C("unknown-distribution-param", L, "sd: 5ms, min: 50ms", "sdev: 5ms, min: 50ms", "sdev: 5ms",
      "stations.filler.cycle.sdev", "did you mean 'sd'?", cli=True),
    C("unknown-failure-key", L, "{name: jam, kind: breakdown, mtbf: 2h", "{name: jam, kind: breakdown, mtfb: 2h",
      "{name: jam,", "stations.filler.failures[0].mtfb", "did you mean 'mtbf'?"),
    C("unknown-tank-key", L, "  pump_flow: 2.5", "  pump_flw: 2.5", "pump_flw:", "tank.pump_flw",
      "did you mean 'pump_flow'?"),
    C("unknown-plc-key", P, "{program: plc/capper.st, cycle: 10ms}", "{program: plc/capper.st, cycel: 10ms}",
      "capper_plc:", "plcs.capper_plc.cycel", "did you mean 'cycle'?"),
    C("unknown-binding-key", L, "plc: capper_plc, tag: capper_fault}", "plc: capper_plc, tga: capper_fault}",
      "tga: capper_fault", "bindings[9].tga", "did you mean 'tag'?"),
    C("unknown-operator-key", L, "  restart_via: hmi", "  restart_vai: hmi", "restart_vai:", "operator.restart_vai",
      "did you mean 'restart_via'?"),
    # --- wrong types -------------------------------------------------------------------------------------------
    C("string-for-int", S, "replications: 1", "replications: one", "replications: one", "run.replications",
      "valid integer"),
    C("list-for-mapping", P, "{program: plc/qa.st, cycle: 10ms}", "[plc/qa.st, 10ms]", "qa_plc:", "plcs.qa_plc",
      "expected a mapping", cli=True),
    C("scalar-for-mapping", S, RUN_BLOCK, "run: 8h\n", "run: 8h", "run",
      "expected a mapping"),
    C("string-for-number", L, "  capacity: 400", "  capacity: lots", "capacity: lots", "tank.capacity",
      "valid number"),
    C("string-for-list", L, FLOW, "flow: infeed", "flow: infeed", "flow",
      "valid list"),
    C("duration-for-distribution", L, "cycle: {dist: fixed, value: 100ms}", "cycle: 100ms", "cycle: 100ms",
      "stations.inspection.cycle", "{dist: fixed, value: 1s}"),
    C("unknown-literal", S, "mode: virtual", "mode: virtul", "mode: virtul", "run.mode", "did you mean 'virtual'?"),
    C("unknown-station-kind", L, "kind: inspection", "kind: inspect", "kind: inspect", "stations.inspection.kind",
      "did you mean 'inspection'?"),
    # --- missing required fields -------------------------------------------------------------------------------
    C("missing-run-duration", S, "  duration: 8h\n", "", "run:", "run.duration", "required field is missing"),
    C("missing-top-level-line", S, "line: line.yaml\n", "", 1, "line", "required field is missing"),
    C("missing-station-kind", L, "    kind: inspection\n", "", "  inspection:", "stations.inspection.kind",
      "required field is missing"),
    C("missing-failure-mttr", L, ", mttr: {dist: uniform, low: 5s, high: 25s}", "", "{name: tipped_bottle",
      "stations.filler.failures[1].mttr", "required field is missing"),
    C("missing-plc-program", P, "{program: plc/qa.st, cycle: 10ms}", "{cycle: 10ms}", "qa_plc:",
      "plcs.qa_plc.program", "required field is missing"),
    C("missing-station-cycle", L, "    cycle: {dist: fixed, value: 100ms}\n", "", "  inspection:",
      "stations.inspection.cycle", "needs a cycle distribution"),
    # --- missing referenced files ------------------------------------------------------------------------------
    C("missing-line-file", S, "line: line.yaml", "line: lines.yaml", "line: lines.yaml", "line",
      "file not found: lines.yaml", cli=True),
    C("missing-plcs-file", S, "plcs: plcs.yaml", "plcs: plc.yaml", "plcs: plc.yaml", "plcs",
      "file not found: plc.yaml"),
    C("missing-program-file", P, "plc/qa.st", "plc/qa_v2.st", "qa_plc:", "plcs.qa_plc.program",
      "file not found: plc/qa_v2.st"),
    C("missing-network-file", S, "network: network.yaml\n", "network: lan.yaml\n", "network:",
      "network", "file not found: lan.yaml"),
    C("line-ref-is-directory", S, "line: line.yaml", "line: plc", "line: plc", "line", "is a directory"),
    # --- durations ---------------------------------------------------------------------------------------------
    C("negative-warmup", S, "warmup: 30m", "warmup: -5m", "warmup: -5m", "run.warmup", "must not be negative",
      cli=True),
    C("unknown-duration-unit", L, "gate_time: 150ms", "gate_time: 5 parsecs", "gate_time:",
      "stations.inspection.gate_time", "bad duration '5 parsecs'"),
    C("empty-duration", S, "duration: 8h", "duration: ''", "duration: ''", "run.duration", "bad duration ''"),
    C("infinite-duration", S, "duration: 8h", "duration: .inf", "duration: .inf", "run.duration", "finite"),
    C("negative-mtbf", L, "mtbf: 2.5h", "mtbf: -2.5h", "mtbf: -2.5h", "stations.labeler.failures[0].mtbf",
      "must not be negative"),
    C("negative-number-cycle", P, "{program: plc/capper.st, cycle: 10ms}", "{program: plc/capper.st, cycle: -10}",
      "capper_plc:", "plcs.capper_plc.cycle", "must not be negative"),
    C("bad-duration-in-distribution", L, "mean: 5m, sd: 2.5m", "mean: 5m, sd: 2.5 mins", "2.5 mins",
      "stations.filler.failures[0].mttr.sd", "bad duration '2.5 mins'"),
    C("plc-cycle-not-whole-ms", P, "{program: plc/line.st, cycle: 10ms}", "{program: plc/line.st, cycle: 2.5ms}",
      "line_plc:", "plcs.line_plc.cycle", "whole number of milliseconds"),
    C("bad-duration-station-named-like-a-type", L, "mean: 300ms, sd: 10ms", "mean: 300ms, sd: ten ms", "sd: ten ms",
      "stations.intake.cycle.sd", "bad duration 'ten ms'", rename=("infeed", "intake")),
    # --- distributions -----------------------------------------------------------------------------------------
    C("unknown-distribution-close", L, "dist: normal, mean: 75ms", "dist: norml, mean: 75ms", "norml",
      "stations.filler.cycle.dist", "did you mean 'normal'?", cli=True),
    C("unknown-distribution-far", L, "dist: fixed, value: 100ms", "dist: poisson, value: 100ms", "poisson",
      "stations.inspection.cycle.dist", "use one of 'fixed', 'normal'"),
    C("missing-distribution-param", L, "{dist: uniform, low: 5s, high: 25s}", "{dist: uniform, low: 5s}",
      "{name: tipped_bottle", "stations.filler.failures[1].mttr.high", "required field is missing"),
    C("missing-dist", L, "restart_delay: {dist: uniform, low: 30s, high: 90s}", "restart_delay: {low: 30s, high: 90s}",
      "restart_delay:", "operator.restart_delay", "needs 'dist'"),
    C("uniform-low-above-high", L, "low: 30s, high: 90s", "low: 90s, high: 30s", "restart_delay:",
      "operator.restart_delay", "uniform needs low <= high"),
    # --- probabilities -----------------------------------------------------------------------------------------
    C("probability-above-one", L, "detect_prob: 0.98", "detect_prob: 1.5", "detect_prob: 1.5",
      "stations.inspection.detect_prob", "less than or equal to 1", cli=True),
    C("probability-negative", L, "defect_rate: 0.003", "defect_rate: -0.003", "defect_rate: -0.003",
      "stations.labeler.defect_rate", "greater than or equal to 0"),
    C("probability-as-percent", L, "guard_open_on_failure: 0.8", "guard_open_on_failure: 80",
      "guard_open_on_failure: 80", "operator.guard_open_on_failure", "less than or equal to 1"),
    # --- buffers -----------------------------------------------------------------------------------------------
    C("buffer-capacity-zero", L, "b_lab: {capacity: 5}", "b_lab: {capacity: 0}", "b_lab:", "buffers.b_lab.capacity",
      "greater than or equal to 1"),
    C("buffer-capacity-fraction", L, "b_cap: {capacity: 40}", "b_cap: {capacity: 2.5}", "b_cap:",
      "buffers.b_cap.capacity", "valid integer"),
    # --- flow --------------------------------------------------------------------------------------------------
    C("flow-unknown-station", L, "capper, b_cap", "caper, b_cap", "flow: [", "flow[4]",
      "unknown station 'caper'; did you mean 'capper'?"),
    C("flow-unknown-buffer", L, "b_fill, capper", "b_fil, capper", "flow: [", "flow[3]",
      "unknown buffer 'b_fil'; did you mean 'b_fill'?"),
    C("flow-wrong-alternation", L, "filler, b_fill", "b_fill, filler", "flow: [", "flow[2]",
      "'b_fill' is a buffer", cli=True),
    C("flow-not-from-source", L, "flow: [infeed, b_in, filler", "flow: [filler, b_in, infeed", "flow: [", "flow[0]",
      "starts at a source station, not a filler"),
    C("flow-not-to-sink", L, "packer, b_pack, sink]", "sink, b_pack, packer]", "flow: [", "flow[12]",
      "ends at a sink station, not a machine"),
    C("flow-ends-with-buffer", L, "b_pack, sink]", "b_pack]", "flow: [", "flow[11]", "ends with buffer 'b_pack'"),
    C("flow-repeats-station", L, "b_lab, inspection", "b_lab, labeler", "flow: [", "flow[8]",
      "'labeler' appears twice in the flow"),
    C("flow-block-sequence", L, FLOW, "flow:\n" + "".join(f"  - {n}\n" for n in FLOW_NAMES).replace("capper", "caper"),
      "  - caper", "flow[4]", "did you mean 'capper'?"),
    C("station-not-in-flow", L, "  sink:\n    kind: sink\n",
      "  sink:\n    kind: sink\n  spare:\n    kind: machine\n    cycle: {dist: fixed, value: 1s}\n", "  spare:",
      "stations.spare", "station is not in the flow"),
    C("buffer-not-in-flow", L, "  b_pack: {capacity: 5}", "  b_pack: {capacity: 5}\n  b_spare: {capacity: 5}",
      "b_spare:", "buffers.b_spare", "buffer is not in the flow"),
    C("kpi-station-unknown", L, "kpi_station: filler", "kpi_station: filer", "kpi_station:", "kpi_station",
      "unknown station 'filer'; did you mean 'filler'?"),
    # --- bindings ----------------------------------------------------------------------------------------------
    C("binding-unknown-signal", L, "{signal: tank.level,", "{signal: tank.levl,", "tank.levl", "bindings[0].signal",
      "unknown signal 'tank.levl'; did you mean 'tank.level'?"),
    C("binding-unknown-plc", L, "{signal: capper.fault, plc: capper_plc", "{signal: capper.fault, plc: caper_plc",
      "caper_plc", "bindings[9].plc", "unknown PLC 'caper_plc'; did you mean 'capper_plc'?"),
    C("binding-unknown-tag", L, "tag: bottle_in_place}", "tag: bottle_in_plce}", "bottle_in_plce", "bindings[1].tag",
      "PLC filler_plc has no tag 'bottle_in_plce'; did you mean 'bottle_in_place'?", cli=True),
    C("binding-sensor-to-output", L, "{signal: filler.bottle_in_place, plc: filler_plc, tag: bottle_in_place}",
      "{signal: filler.bottle_in_place, plc: filler_plc, tag: release}", "filler.bottle_in_place", "bindings[1].tag",
      "filler.bottle_in_place is a sensor: bind it to a %I variable; release is at %QX0.3"),
    C("binding-actuator-to-input", L, "{signal: filler.release, plc: filler_plc, tag: release}",
      "{signal: filler.release, plc: filler_plc, tag: line_running}", "filler.release", "bindings[6].tag",
      "filler.release is an actuator: bind it to a %Q variable; line_running is at %IX0.1"),
    C("binding-bool-to-int", L, "{signal: filler.bottle_in_place, plc: filler_plc, tag: bottle_in_place}",
      "{signal: filler.bottle_in_place, plc: filler_plc, tag: level}", "filler.bottle_in_place", "bindings[1].tag",
      "filler.bottle_in_place is a BOOL; level is INT"),
    C("binding-number-to-bool", L, "tag: level, scale: 100}", "tag: bottle_in_place, scale: 100}", "tank.level",
      "bindings[0].tag", "tank.level is a number; bottle_in_place is BOOL"),
    C("binding-internal-variable", L, "{signal: tank.inlet_pump, plc: filler_plc, tag: inlet_pump}",
      "{signal: tank.inlet_pump, plc: filler_plc, tag: refill}", "tank.inlet_pump", "bindings[3].tag",
      "refill has no %I/%Q address"),
    C("binding-actuator-driven-twice", L, "tag: conveyor_run}\n",
      "tag: conveyor_run}\n  - {signal: conveyors.run, plc: capper_plc, tag: capper_alarm}\n", "capper_alarm",
      "bindings[20].signal", "conveyors.run is already driven by bindings[19]"),
    # --- ST errors in a referenced program ---------------------------------------------------------------------
    C("st-syntax-error", FILLER, "level_pct := INT_TO_REAL(level) / 100.0;", "level_pct := INT_TO_REAL(level) / ;",
      "level_pct := INT_TO_REAL(level) / ;", "plcs.filler_plc.program", "syntax error"),
    C("st-type-error", CAPPER, "capper_run := line_running AND NOT capper_fault;", "capper_run := caps_applied;",
      "capper_run := caps_applied;", "plcs.capper_plc.program", "cannot assign INT to BOOL", cli=True),
    C("st-undeclared-variable", QA, "reject_gate := reject;", "reject_gate := rejct;", "reject_gate := rejct;",
      "plcs.qa_plc.program", "undeclared variable rejct"),
    C("st-empty-program", LINE_ST, None, "", 1, "plcs.line_plc.program", "no PROGRAM found"),
    C("st-not-utf8", CAPPER, "One count per bottle", b"One count \xff per bottle", "One count",
      "plcs.capper_plc.program", "not UTF-8"),
    # --- run and document-level checks -------------------------------------------------------------------------
    C("warmup-not-shorter-than-duration", S, "warmup: 30m", "warmup: 8h", "warmup: 8h", "run.warmup",
      "warm-up must be shorter than the run duration"),
    C("replications-zero", S, "replications: 1", "replications: 0", "replications: 0", "run.replications",
      "greater than or equal to 1"),
    C("duration-zero", S, "duration: 8h", "duration: 0s", "duration: 0s", "run.duration", "greater than 0"),
    C("api-version-wrong", S, "apiVersion: twin/v1", "apiVersion: twin/v2", "apiVersion:", "apiVersion",
      "input should be 'twin/v1'"),
    C("empty-scenario-file", S, None, "", 1, "", "the file is empty"),
    C("comment-only-line-file", L, None, "# nothing here yet\n", 1, "", "the file is empty"),
    C("scenario-is-a-list", S, None, "- line: line.yaml\n- plcs: plcs.yaml\n", 1, "",
      "expected a mapping (key: value) at the top level, got a list"),
    C("scenario-not-utf8", S, "Bottling line", b"Bottling \xe9 line", "Bottling", "", "not UTF-8", cli=True),
    C("line-file-not-utf8", L, "  b_pack: {capacity: 5}", b"  b_pack: {capacity: 5}  # \xff", "b_pack:", "",
      "not UTF-8"),
]


def _make(root: Path, case: Case) -> Path:
    """Copy the shipped scenario folder to root/bottling and apply the case's edit."""
    folder = root / "bottling"
    shutil.copytree(SRC, folder)
    target = folder / case.file
    new = case.new if isinstance(case.new, bytes) else case.new.encode()
    if case.old is None:
        target.write_bytes(new)
    else:
        data = target.read_bytes()
        if case.rename:
            assert case.rename[0].encode() in data
            data = data.replace(case.rename[0].encode(), case.rename[1].encode())
        old = case.old.encode()
        n = data.count(old)
        assert n == 1, f"{case.id}: {case.old!r} occurs {n} times"
        target.write_bytes(data.replace(old, new))
    return folder


def _expected_line(folder: Path, case: Case) -> int:
    if case.at is None or isinstance(case.at, int):
        return case.at or 0
    text = (folder / case.file).read_bytes().decode("utf-8", errors="replace")
    if "\n" in case.at:
        start = text.index(case.at)
        assert text.count(case.at) == 1, f"{case.id}: {case.at!r} is not unique in {case.file}"
        return text.count("\n", 0, start) + 1
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if case.at in ln]
    assert len(hits) == 1, f"{case.id}: {case.at!r} is on lines {hits} of {case.file}"
    return hits[0]


def test_corpus_is_large_and_distinct():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.file, c.old, c.new) for c in CASES}) == len(CASES)
    assert sum(c.cli for c in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_located(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = _make(tmp_path, case)
    monkeypatch.chdir(folder)
    with pytest.raises(ScenarioError) as info:
        load(S)
    err = info.value
    got = (err.file, err.line, err.field)
    assert got == (case.file, _expected_line(folder, case), case.field), f"{err}"
    assert case.msg in err.message, f"{err}"
    # the one-line form the CLI prints
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{case.file}:{err.line}: " if err.line else f"{case.file}: ")


def test_missing_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as info:
        load("nope.yaml")
    assert (info.value.file, info.value.line, info.value.field) == ("nope.yaml", 0, "")
    assert "file not found" in info.value.message


def test_directory_as_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(SRC, tmp_path / "bottling")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as info:
        load("bottling")
    err = info.value
    assert (err.file, err.line, err.field) == ("bottling", 0, "")
    assert "is a directory" in err.message and "bottling/baseline.yaml" in err.message


def test_valid_scenario_loads():
    loaded = load(SRC / "baseline.yaml")
    assert loaded.scenario.metadata.id == "BASELINE"
    assert loaded.line.name == "bottling" and loaded.line.kpi_station == "filler"
    assert set(loaded.programs) == {"filler_plc", "capper_plc", "qa_plc", "line_plc"}
    assert loaded.scenario.run.duration == 8 * 3_600_000.0 and loaded.scenario.run.warmup == 30 * 60_000.0
    assert {"baseline.yaml", "line.yaml", "plcs.yaml", "plc/filler.st"} <= set(loaded.files)


def test_valid_copy_loads_from_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The harness itself: an unedited copy loads, so every failure above comes from its edit."""
    shutil.copytree(SRC, tmp_path / "bottling")
    monkeypatch.chdir(tmp_path / "bottling")
    assert len(load(S).line.bindings) == 20


def test_yaml_anchors_and_merge_keys_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    case = C("merge", L, "b_fill: {capacity: 40}\n  b_cap: {capacity: 40}",
             "b_fill: &forty {capacity: 40}\n  b_cap: {<<: *forty}", None, "", "")
    monkeypatch.chdir(_make(tmp_path, case))
    assert load(S).line.buffers["b_cap"].capacity == 40


def test_schema_is_json_with_all_definitions():
    from twin.cli import main

    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    defs = doc["$defs"]
    assert {"Scenario", "Line", "Plcs"} <= set(defs)
    assert {"apiVersion", "metadata", "line", "plcs", "run"} <= set(defs["Scenario"]["properties"])
    assert {"flow", "stations", "buffers", "bindings"} <= set(defs["Line"]["properties"])
    assert "plcs" in defs["Plcs"]["properties"]
    refs = {r["$ref"] for r in doc["oneOf"]}
    assert refs == {"#/$defs/Scenario", "#/$defs/Line", "#/$defs/Plcs"}


# --- the real CLI, in subprocesses started together so they overlap ------------------------------------------

CLI_CASES = [c for c in CASES if c.cli]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory):
    """Start `twin run` on every CLI case (and on a directory) at once; collect (rc, stdout, stderr, folder)."""
    procs = {}
    for case in CLI_CASES:
        root = tmp_path_factory.mktemp(case.id)
        folder = _make(root, case)
        procs[case.id] = (folder, _start(folder, S, root))
    root = tmp_path_factory.mktemp("directory")
    shutil.copytree(SRC, root / "bottling")
    procs["<directory>"] = (root, _start(root, "bottling", root))
    out = {}
    for key, (folder, p) in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[key] = (p.returncode, stdout, stderr, folder)
    return out


def _start(cwd: Path, scenario: str, root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "twin.cli", "run", scenario, "-q", "--no-report",
                             "--out", str(root / "out")],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_one_line(rc: int, stdout: str, stderr: str) -> str:
    assert "Traceback" not in stdout + stderr, stderr
    assert rc == 2, (rc, stdout, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and stderr.endswith("\n"), stderr
    assert lines[0].startswith("twin: "), stderr
    return lines[0]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_cli_prints_one_located_line(case: Case, cli_runs):
    rc, stdout, stderr, folder = cli_runs[case.id]
    line = _assert_one_line(rc, stdout, stderr)
    assert f" {case.file}:{_expected_line(folder, case)}: " in line, line
    if case.field:
        assert f": {case.field}: " in line, line
    assert case.msg in line, line


def test_cli_directory_as_scenario(cli_runs):
    rc, stdout, stderr, _ = cli_runs["<directory>"]
    line = _assert_one_line(rc, stdout, stderr)
    assert line.startswith("twin: bottling: ") and "is a directory" in line, line
