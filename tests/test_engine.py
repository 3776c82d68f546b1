"""The engine: determinism, exact idle-scan skipping, the analytic check, known plant behaviours."""

import dataclasses

import pytest

from twin.api import load, run
from twin.engine import virtual
from twin.engine.loading import canonical_json
from twin.report import journal as journal_mod

BASELINE = "scenarios/bottling/baseline.yaml"


def shortened(path=BASELINE, duration_ms=3_600_000.0, warmup_ms=600_000.0, **line_updates):
    loaded = load(path)
    sc = loaded.scenario
    loaded.scenario = sc.model_copy(update={"run": sc.run.model_copy(
        update={"duration": duration_ms, "warmup": warmup_ms})})
    if line_updates:
        loaded.line = loaded.line.model_copy(update=line_updates)
    return loaded


def test_same_seed_gives_a_byte_identical_journal():
    a = journal_mod.dumps(run(shortened()).journal)
    b = journal_mod.dumps(run(shortened()).journal)
    assert a == b
    other = shortened()
    other.scenario = other.scenario.model_copy(update={"metadata": other.scenario.metadata.model_copy(
        update={"seed": 43})})
    assert journal_mod.dumps(run(other).journal) != a


def test_replications_in_parallel_equal_sequential():
    loaded = shortened(duration_ms=1_800_000.0, warmup_ms=300_000.0)
    seq = run(loaded, replications=3, jobs=1).journal
    par = run(loaded, replications=3, jobs=2).journal
    assert journal_mod.dumps(seq) == journal_mod.dumps(par)
    s = seq["summary"]["oee"]
    assert s["n"] == 3 and s["ci"][0] <= s["mean"] <= s["ci"][1]
    assert len({r["kpis"]["oee"] for r in seq["replications"]}) == 3  # the seeds differ per replication


def test_skipping_idle_scans_is_exactly_lockstep():
    """The differential test: scan skipping must not change one byte of the results."""
    loaded = shortened(duration_ms=2 * 3_600_000.0, warmup_ms=600_000.0)
    out = {}
    executed = {}
    for skip in (True, False):
        twin = virtual.build(loaded, 0, skip_idle_scans=skip)
        virtual.run(twin, loaded.scenario.run.duration)
        out[skip] = canonical_json(virtual.summarise(loaded, twin, 0, None, True))
        executed[skip] = sum(d.executed for d in twin.drivers.values())
    assert out[True] == out[False]
    assert executed[True] < executed[False] / 2  # and it did skip


def test_analytic_serial_line_throughput_is_one_over_bottleneck_cycle():
    result = run("tests/fixtures/serial/scenario.yaml").journal["replications"][0]
    # machine b (300 ms) is the bottleneck: 12,000 per hour, exact to one unit in the window
    window_h = (3_600_000 - 300_000) / 3_600_000
    assert abs(result["kpis"]["throughput_per_h"] - 12_000) <= 1 / window_h
    assert result["kpis"]["effectiveness"] == pytest.approx(200 / 200, abs=0.002)
    te = result["time_elements"]
    assert te["b"]["starved"] == 0 and te["b"]["blocked"] == 0  # the bottleneck never waits
    assert te["c"]["starved"] > 0                                # the machine after it does


def test_starving_the_tank_stops_the_filler():
    loaded = shortened()
    loaded.line = loaded.line.model_copy(update={"tank": loaded.line.tank.model_copy(
        update={"pump_flow": 0.0, "initial": 20.0})})
    twin = virtual.build(loaded, 0)
    virtual.run(twin, 300_000.0)
    tank, filler = twin.line.tank, twin.line.stations["filler"]
    produced = twin.line.counts["produced"]
    # 80 L at 1.5 L/s reaches the 5 % (20 L) minimum within a minute; then no fill starts
    assert tank.level_pct < 5.0 + 0.3
    twin.env.run(until=400_000.0)
    assert twin.line.counts["produced"] == produced
    assert twin.plcs["filler_plc"].read("fill_valve") is False
    assert filler.log.state == "STOPPED"
    assert twin.line.counts["underfilled"] == 0  # it stopped before running dry


def test_opening_the_guard_stops_the_conveyors_within_one_scan():
    twin = virtual.build(shortened(), 0)
    virtual.run(twin, 600_000.0)
    line = twin.line
    assert line.board["conveyors.run"].value is True
    stopped_at = []
    line.board["conveyors.run"].on_change(lambda s: stopped_at.append(twin.env.now) if not s.value else None)
    opened = 600_003.7  # between two scans

    def open_guard(env):
        yield env.timeout(opened - env.now)
        line.operator.open_guard("test")

    twin.env.process(open_guard(twin.env))
    twin.env.run(until=601_000.0)
    assert stopped_at and stopped_at[0] - opened <= 10.0  # one 10 ms scan
    assert line.violations == []


def _hi_setpoint_written_at_start(loaded, value=200.0):
    """An operator (or attacker, ATT&CK for ICS T0836) sets the refill stop point above 100 %."""
    twin = virtual.build(loaded, 0)
    twin.plcs["filler_plc"].write("level_hi_sp", value)
    virtual.run(twin, 1_800_000.0)
    return twin


def test_high_high_interlock_closes_the_inlet():
    twin = _hi_setpoint_written_at_start(shortened())
    filler = twin.plcs["filler_plc"]
    levels = [s["tank"]["level"] for s in twin.line.samples]
    assert max(levels) >= 94.9                      # the refill ran up to the trip point
    assert max(levels) < 95.5                       # and no further: the trip closed the inlet
    trips = [e for e in twin.line.trace if e[1] == "tank.inlet_valve" and e[2] is False]
    assert trips and filler.read("level_hh_sp") == 95.0
    assert twin.line.violations == []


def test_without_the_interlock_the_tank_overflows_with_a_trace():
    from plcsim.st.compiler import compile_file

    loaded = shortened()
    loaded.programs["filler_plc"] = compile_file("scenarios/bottling/plc/filler_v2_no_hh.st")
    twin = _hi_setpoint_written_at_start(loaded)
    v = [x for x in twin.line.violations if x["invariant"] == "tank_no_overflow"]
    assert v, "the overflow must be recorded"
    first = v[0]
    assert first["trace"] and any(e["signal"] == "tank.level" for e in first["trace"])
    assert all(first["t_ms"] - 10_000 <= e["t_ms"] <= first["t_ms"] for e in first["trace"])
