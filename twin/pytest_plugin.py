"""pytest plugin: a plant's own pre-deployment suite runs changes through the twin.

    def test_filler_patch(twin):
        result = twin.validate("scenarios/bottling/changes/filler-v2-faster-refill.yaml")
        assert result.verdict == "GO", result.explain()

    @pytest.mark.twin_changes("scenarios/bottling/predeploy/approved")
    def test_approved_changes(twin, twin_change):
        assert twin.validate(twin_change).verdict == "GO"

Options: --twin-replications N (override every scenario's replications),
--twin-report DIR (journal, report and JUnit XML per validation in DIR/<id>/).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("twin", "digital-twin pre-deployment checks")
    group.addoption("--twin-replications", type=int, default=None,
                    help="override the replications of every validated scenario")
    group.addoption("--twin-report", default=None, help="write journal, report and JUnit XML per validation here")
    group.addoption("--twin-jobs", type=int, default=None, help="worker processes per validation")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "twin_changes(folder): run the test once per change file (*.yaml) in folder")


class TwinSession:
    """What the `twin` fixture hands a test: validate and run through the public API."""

    def __init__(self, config: pytest.Config) -> None:
        self.replications = config.getoption("--twin-replications")
        self.report = config.getoption("--twin-report")
        self.jobs = config.getoption("--twin-jobs")
        self.root = Path(str(config.rootpath))

    def _path(self, scenario: str | Path) -> Path:
        p = Path(scenario)
        return p if p.is_absolute() or p.exists() else self.root / p

    def validate(self, scenario: str | Path, **kw):
        from .api import load, validate

        loaded = load(self._path(scenario))
        out = Path(self.report) / loaded.scenario.metadata.id if self.report else None
        kw.setdefault("replications", self.replications)
        kw.setdefault("jobs", self.jobs)
        return validate(loaded, report_dir=out, junit=(out / "junit.xml") if out else None, **kw)

    def run(self, scenario: str | Path, **kw):
        from .api import run

        kw.setdefault("replications", self.replications)
        return run(self._path(scenario), **kw)


@pytest.fixture(scope="session")
def twin(request: pytest.FixtureRequest) -> TwinSession:
    return TwinSession(request.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("twin_changes")
    if marker is None or "twin_change" not in metafunc.fixturenames:
        return
    folder = Path(marker.args[0])
    if not folder.is_absolute():
        folder = Path(str(metafunc.config.rootpath)) / folder
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise pytest.UsageError(f"twin_changes: no change files (*.yaml) in {folder}")
    metafunc.parametrize("twin_change", [str(f) for f in files], ids=[f.stem for f in files])
