"""The Markdown report and its plots, built from real (short) runs of the reference line."""

from __future__ import annotations

import copy
import re
import struct
from pathlib import Path

import pytest

import twin.api
from twin.api import run
from twin.report import plots
from twin.report.markdown import duration, hms, write_report

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "bottling" / "baseline.yaml"
SECTIONS = ["# Run report: BASELINE", "## At a glance", "## KPIs (ISO 22400-2)", "### Raw time elements of the filler",
            "## How losses are counted", "## Station time elements", "## Safety invariants", "## Events",
            "### Breakdowns", "## Plots"]


def _short(duration_ms: float = 3_600_000.0, warmup_ms: float = 600_000.0):
    loaded = twin.api.load(SCENARIO)
    loaded.scenario = loaded.scenario.model_copy(
        update={"run": loaded.scenario.run.model_copy(update={"duration": duration_ms, "warmup": warmup_ms})})
    return loaded


@pytest.fixture(scope="module")
def journal() -> dict:
    return run(_short(), replications=1).journal


@pytest.fixture(scope="module")
def journal2() -> dict:
    # jobs=1: worker processes reload the scenario from its file and would lose the shortened run
    return run(_short(1_800_000.0, 600_000.0), replications=2, jobs=1).journal


@pytest.fixture(scope="module")
def report(journal, tmp_path_factory) -> tuple[Path, str]:
    path = write_report(journal, tmp_path_factory.mktemp("report"))
    return path, path.read_text(encoding="utf-8")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _images(md: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)


def _row(md: str, label: str) -> list[str]:
    """The cells of the table row that starts with `label`."""
    for line in md.splitlines():
        if line.startswith(f"| {label} |"):
            return [c.strip() for c in line.strip().strip("|").split("|")]
    raise AssertionError(f"no table row {label!r}")


def test_report_has_every_section_in_order(report):
    path, md = report
    assert path.name == "report.md"
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions)


def test_header_names_the_run(report, journal):
    _, md = report
    assert journal["scenario"]["hash"][:12] in md
    assert f"| Seed | {journal['seed']} |" in md
    assert "| Replications | 1 |" in md
    assert "| Measured window | 50 min (1 h run − 10 min warm-up) |" in md
    assert f"simpy {journal['versions']['simpy']}" in md


def test_kpi_values_match_the_journal(report, journal):
    _, md = report
    s = journal["summary"]
    assert _row(md, "OEE")[2] == f"{100 * s['oee']['mean']:.2f} %"
    assert _row(md, "Availability")[2] == f"{100 * s['availability']['mean']:.2f} %"
    assert _row(md, "Availability excl. starved/blocked")[2] == \
        f"{100 * s['availability_excl_starved_blocked']['mean']:.2f} %"
    assert _row(md, "Quality ratio")[2] == f"{100 * s['quality']['mean']:.2f} %"
    assert _row(md, r"Throughput (bottles/h)")[2] == f"{s['throughput_per_h']['mean']:,.0f}"
    assert "95 % CI" not in md      # one replication: no interval
    raw = journal["replications"][0]["raw"]
    assert _row(md, "PBT")[2] == f"{raw['PBT_ms'] / 3_600_000:,.3f} h"
    assert _row(md, "APT")[2] == f"{raw['APT_ms'] / 3_600_000:,.3f} h"
    assert _row(md, "stopped")[2] == f"{raw['stopped_ms'] / 3_600_000:,.3f} h"
    assert _row(md, "GQ")[2] == f"{raw['GQ']:,}"
    assert _row(md, "FE")[2] == str(raw["FE"])


def test_loss_treatment_is_stated(report, journal):
    _, md = report
    section = md[md.index("## How losses are counted"):md.index("## Station time elements")]
    assert "APT / PBT" in section and "APT / (PBT − starved − blocked)" in section
    assert f"{100 * journal['summary']['availability_excl_starved_blocked']['mean']:.2f} %" in section
    assert "Micro-stops" in section and "inside APT" in section
    assert "line end" in section
    assert "ΣTBF / FE" in section and "ΣTTR / FE" in section


def test_station_table_shares_and_counts(report, journal):
    _, md = report
    te = journal["replications"][0]["time_elements"]
    row = _row(md, "**filler**")
    total = sum(te["filler"][k] for k in ("execute", "starved", "blocked", "held_breakdown", "held_microstop",
                                          "stopped"))
    assert row[1] == f"{100 * te['filler']['execute'] / total:.2f} %"
    assert row[7] == str(te["filler"]["breakdowns"])
    assert row[9] == str(te["filler"]["microstops"])
    shares = [float(c.rstrip(" %")) for c in row[1:7]]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    assert "| sink |" not in md


def test_invariants_and_events(report, journal):
    _, md = report
    for inv in journal["invariants"]:
        assert f"| `{inv}` |" in md
    rep = journal["replications"][0]
    breakdowns = [e for e in rep["events"] if e["event"] == "breakdown"]
    assert _row(md, "`breakdown`")[2] == str(len(breakdowns))
    for e in breakdowns:
        assert f"| {hms(e['t_ms'])}" in md and e["mode"] in md


def test_every_referenced_png_exists_and_is_sensible(report):
    path, md = report
    names = _images(md)
    assert {"throughput_oee.png", "gantt.png", "tank.png", "buffers.png"} <= set(names)
    assert "replications_oee.png" not in names        # only with more than one replication
    for name in names:
        png = path.parent / name
        assert png.is_file(), name
        w, h = _png_size(png)
        assert 800 <= w <= 1600 and 300 <= h <= 1000, (name, w, h)
        assert png.stat().st_size > 15_000, name       # not an empty canvas


def test_plots_are_not_blank(report):
    import matplotlib.image as mpimg

    path, md = report
    for name in _images(md):
        img = mpimg.imread(path.parent / name)
        assert img[..., :3].std() > 0.05, name


def test_rate_series_matches_the_kpis(journal):
    """Integrating the per-interval rates over the measured window gives the journal's throughput."""
    rep = journal["replications"][0]
    s = plots.rate_series(rep["samples"], 60_000.0 / journal["line"]["ideal_rate"])
    warm = journal["run"]["warmup_ms"] / 3_600_000
    measured = [v for t, v in zip(s["t_h"], s["throughput_per_h"]) if t > warm]
    # samples end one interval before the run does, so allow a little slack
    assert sum(measured) / len(measured) == pytest.approx(rep["kpis"]["throughput_per_h"], rel=0.05)
    assert all(0 <= a <= 1.0 + 1e-9 for a in s["availability"])


def test_multiple_replications_show_the_interval(journal2, tmp_path):
    path = write_report(journal2, tmp_path)
    md = path.read_text(encoding="utf-8")
    oee = journal2["summary"]["oee"]
    assert journal2["run"]["replications"] == 2 and oee["ci"] is not None
    assert "95 % CI (Student t)" in md
    row = _row(md, "OEE")
    assert row[3] == f"{100 * oee['ci'][0]:.2f} % – {100 * oee['ci'][1]:.2f} %"
    assert "mean over 2 replications" in md
    assert "replications_oee.png" in _images(md)
    w, h = _png_size(tmp_path / "replications_oee.png")
    assert w >= 800 and h >= 300
    assert "Warning" not in md


def test_violation_shows_its_trace(journal, tmp_path):
    j = copy.deepcopy(journal)
    rep = j["replications"][0]
    t = 2_000_000.0
    trace = [{"t_ms": t - 9_000 + 300 * i, "signal": f"sig_{i}", "value": i % 2 == 0} for i in range(25)]
    trace.append({"t_ms": t, "signal": "tank.level", "value": 100.5})
    rep["violations"] = [{"invariant": "tank_no_overflow", "t_ms": t, "level_pct": 100.5, "trace": trace}]
    rep["invariants"]["tank_no_overflow"] = {"ok": False, "violations": 1, "first_t_ms": t}
    j["invariants"]["tank_no_overflow"] = False
    md = write_report(j, tmp_path).read_text(encoding="utf-8")
    assert _row(md, "`tank_no_overflow`")[2] == "**BROKEN**"
    assert "BROKEN: `tank_no_overflow`" in md
    assert "### Violation: `tank_no_overflow` at 0:33:20.000" in md
    assert "level_pct = 100.5" in md
    assert "Last 20 of 26 signal changes" in md
    assert "| 0:33:20.000 | +0.000 | `tank.level` | 100.5 |" in md
    rows = md[md.index("Last 20 of 26"):md.index("Every signal that changed")]
    assert "`sig_5`" not in rows and "`sig_6`" in rows     # only the last 20 changes
    assert "| 0:33:18.200 | -1.800 | `sig_24` | TRUE |" in md
    # signals that fell out of the last 20 rows still show with their last value
    assert "| `sig_5` | FALSE | 0:33:12.500 | -7.500 | 1 |" in md


def test_duration():
    assert duration(27_000_000) == "7.5 h"
    assert duration(3_000_000) == "50 min"
    assert duration(1_800_000) == "30 min"
    assert duration(90_000) == "1.5 min"
    assert duration(45_000) == "45 s"


def test_hms():
    assert hms(0) == "0:00:00"
    assert hms(59_600) == "0:01:00"
    assert hms(247_599.6, 3) == "0:04:07.600"
    assert hms(28_800_000) == "8:00:00"
