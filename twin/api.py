"""The one public Python API. The CLI, the TUI, the pytest plugin and the labs all call this."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .engine.loading import LoadedScenario, load_scenario
from .model import ScenarioError

__all__ = ["load", "run", "validate", "RunResult", "ScenarioError"]


@dataclass
class RunResult:
    loaded: LoadedScenario
    journal: dict[str, Any]

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        return self.journal["summary"]

    @property
    def invariants_ok(self) -> bool:
        return all(self.journal["invariants"].values())

    def kpi(self, name: str) -> float | None:
        return self.summary[name]["mean"]


def load(path: str | Path) -> LoadedScenario:
    """Load and check a scenario; raises ScenarioError (file, line, field) on bad input."""
    return load_scenario(path)


def run(scenario: str | Path | LoadedScenario, *, replications: int | None = None, jobs: int | None = None,
        skip_idle_scans: bool = True, on_replication: Callable[[int], None] | None = None,
        progress: Callable[[float], None] | None = None) -> RunResult:
    """Run the scenario's baseline in virtual time and return its journal."""
    from .engine.replications import run_replications  # scipy: only when something runs
    from .report import journal as journal_mod

    loaded = scenario if isinstance(scenario, LoadedScenario) else load(scenario)
    n = replications or loaded.scenario.run.replications
    reps = run_replications(loaded, n, jobs=jobs, skip_idle_scans=skip_idle_scans, on_done=on_replication,
                            progress=progress)
    return RunResult(loaded, journal_mod.build(loaded, reps))


def validate(scenario: str | Path | LoadedScenario, *, replications: int | None = None, jobs: int | None = None,
             skip_idle_scans: bool = True, on_replication: Callable[[int], None] | None = None,
             junit: str | Path | None = None, report_dir: str | Path | None = None):
    """Validate the scenario's change: a verdict (GO, GO_WITH_WARNINGS, NO_GO, INCONCLUSIVE,
    ABORTED_SAFETY) with named checks and evidence. Writes JUnit XML and a report if asked."""
    from .validate.validation import validate_loaded

    loaded = scenario if isinstance(scenario, LoadedScenario) else load(scenario)
    if loaded.scenario.change is None:
        raise ScenarioError(str(loaded.path), 1, "change", "nothing to validate: the scenario has no 'change:'")
    result = validate_loaded(loaded, replications=replications, jobs=jobs, skip_idle_scans=skip_idle_scans,
                             on_done=on_replication)
    if report_dir is not None:
        from .report import journal as journal_mod
        from .report.validation_report import write_validation_report

        out = Path(report_dir)
        result.artifacts["journal"] = str(journal_mod.write(result.journal, out / "journal.json"))
        result.artifacts["report"] = str(write_validation_report(result.journal, out))
    if junit is not None:
        from .report.junit import write_junit

        result.artifacts["junit"] = str(write_junit(result, Path(junit)))
    return result
