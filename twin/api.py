"""The one public Python API. The CLI, the TUI, the pytest plugin and the labs all call this."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .engine.loading import LoadedScenario, load_scenario
from .engine.replications import run_replications
from .model import ScenarioError
from .report import journal as journal_mod

__all__ = ["load", "run", "RunResult", "ScenarioError"]


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
    loaded = scenario if isinstance(scenario, LoadedScenario) else load(scenario)
    n = replications or loaded.scenario.run.replications
    reps = run_replications(loaded, n, jobs=jobs, skip_idle_scans=skip_idle_scans, on_done=on_replication,
                            progress=progress)
    return RunResult(loaded, journal_mod.build(loaded, reps))
