"""`twin net check|diff` through the click group (not yet registered in twin/cli.py) and a real process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from twin.net.cli import net, register

HERE = Path(__file__).resolve().parents[1] / "scenarios" / "bottling"


@pytest.fixture
def plant(tmp_path, monkeypatch):
    """The shipped network copied and run from its folder, so output names 'rules/baseline.yaml'."""
    shutil.copy(HERE / "network.yaml", tmp_path / "network.yaml")
    shutil.copytree(HERE / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def rule_line(plant: Path, file: str, fragment: str) -> int:
    lines = (plant / file).read_text().splitlines()
    (i,) = [i for i, t in enumerate(lines) if fragment in t and not t.lstrip().startswith("#")]
    return i + 1


def run(*args):
    return CliRunner().invoke(net, list(args))


def test_check_baseline_fails_forbidden_flows(plant):
    r = run("check", "network.yaml")
    assert r.exit_code == 1, r.output
    out = r.output
    assert "modbus.read" in out and "program_download" in out and "= same zone" in out
    legacy = rule_line(plant, "rules/baseline.yaml", "src: 10.10.0.0/24")
    assert "FAIL  forbidden  it_ws -> role:plc modbus.write" in out
    assert f"rules/baseline.yaml:{legacy}" in out
    assert "6 of 9 declared flows hold; 3 fail" in out


def test_check_with_good_rules_passes(plant):
    r = run("check", "network.yaml", "--rules", "rules/proposed-good.yaml")
    assert r.exit_code == 0, r.output
    assert "9 of 9 declared flows hold" in r.output and "FAIL" not in r.output


def test_check_json(plant):
    r = run("check", "network.yaml", "--rules", "rules/proposed-shadowed.yaml", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.output)
    assert doc["matrix"]["modbus.write"]["it_ws"]["filler_plc"] == "allowed"
    assert doc["matrix"]["modbus.write"]["hmi"]["line_plc"] == "allowed"    # the broad allow
    bad = {f["flow"]: f for f in doc["flows"] if not f["ok"]}
    write = bad["it_ws -> role:plc modbus.write"]
    allow = rule_line(plant, "rules/proposed-shadowed.yaml", "plant LAN Modbus")
    assert write["counterexample"]["decision"]["where"] == f"rules/proposed-shadowed.yaml:{allow}"
    assert write["notes"] and "shadows rule #8" in write["notes"][0]
    assert [f["kind"] for f in doc["findings"]] == ["shadowed"]


def test_diff_json_good(plant):
    r = run("diff", "network.yaml", "--rules", "rules/proposed-good.yaml", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    deny = rule_line(plant, "rules/proposed-good.yaml", "the office LAN does not talk")
    legacy = rule_line(plant, "rules/baseline.yaml", "src: 10.10.0.0/24")
    row = next(c for c in doc["changes"] if (c["src"], c["dst"], c["op"]) == ("it_ws", "filler_plc", "modbus.write"))
    assert row["change"] == "allowed->denied" and row["in_intent"]
    assert row["responsible"]["where"] == f"rules/proposed-good.yaml:{deny}"
    assert row["before"]["where"] == f"rules/baseline.yaml:{legacy}"
    assert [s["status"] for s in doc["steps"]] == ["pass", "pass", "pass"]
    assert doc["changed_conduits"] == ["sup-ctrl"] and doc["ok"]


def test_diff_table_blocks_hmi(plant):
    r = run("diff", "network.yaml", "--rules", "rules/proposed-blocks-hmi.yaml")
    assert r.exit_code == 1
    deny = rule_line(plant, "rules/proposed-blocks-hmi.yaml", "no Modbus writes to a PLC")
    hmi = next(l for l in r.output.splitlines() if l.split()[:3] == ["allowed->denied", "hmi", "line_plc"])
    assert "FC 5,15 coils 8-9" in hmi and f"rules/proposed-blocks-hmi.yaml:{deny}" in hmi and hmi.endswith("NO")
    assert "3. nothing outside the intended change changed" in r.output and "FAIL" in r.output
    assert "required  hmi -> line_plc modbus.write coils 8-9: PASS -> FAIL (denied)" in r.output


def test_bad_input_is_one_line_and_exit_2(plant):
    text = (plant / "rules/baseline.yaml").read_text().replace("src: hmi, dst: role:plc", "src: hmii, dst: role:plc")
    (plant / "rules/baseline.yaml").write_text(text)
    r = CliRunner().invoke(net, ["check", "network.yaml"])
    assert r.exit_code == 2
    line = rule_line(plant, "rules/baseline.yaml", "src: hmii")
    assert r.stderr == (f"twin: rules/baseline.yaml:{line}: conduits.sup-ctrl.rules[0].src: unknown host or zone "
                        f"'hmii'; did you mean 'hmi'?\n")
    r = CliRunner().invoke(net, ["diff", "network.yaml"])
    assert r.exit_code == 2 and "--rules" in r.output + r.stderr


def test_register_adds_the_group():
    @click.group()
    def main():
        pass

    register(main)
    r = CliRunner().invoke(main, ["net", "--help"])
    assert r.exit_code == 0 and "check" in r.output and "diff" in r.output


def test_real_process(plant):
    code = "from twin.net.cli import net; net()"
    p = subprocess.run([sys.executable, "-c", code, "check", "network.yaml", "--rules", "rules/missing.yaml"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr == "twin: rules/missing.yaml: file not found\n"
    p = subprocess.run([sys.executable, "-c", code, "diff", "network.yaml", "--rules", "rules/proposed-shadowed.yaml"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "denied->allowed" in p.stdout and not p.stderr
