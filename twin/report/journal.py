"""The journal: a JSON record of what ran and what was observed, enough to replay it.

It holds no wall-clock data, so the same scenario and seed give a
byte-identical journal (tests prove it); timings go to the console only.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from ..engine.loading import LoadedScenario
from ..engine.replications import kpi_summary

JOURNAL_FORMAT = 1
_PACKAGES = ("twin", "simpy", "numpy", "scipy", "pymodbus", "asyncua", "blark", "pydantic")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[p] = "not installed"
    return out


def build(loaded: LoadedScenario, reps: list[dict[str, Any]]) -> dict[str, Any]:
    sc = loaded.scenario
    return {
        "journal_format": JOURNAL_FORMAT,
        "kind": "run",
        "scenario": {"id": sc.metadata.id, "title": sc.metadata.title, "hash": loaded.hash,
                     "files": loaded.files, "document": sc.model_dump(mode="json")},
        "seed": sc.metadata.seed,
        "seeds": [{"entropy": sc.metadata.seed, "replication": r["replication"]} for r in reps],
        "versions": versions(),
        "run": {"mode": "virtual", "duration_ms": sc.run.duration, "warmup_ms": sc.run.warmup,
                "replications": len(reps), "sample_ms": sc.run.sample},
        "line": loaded.line.model_dump(mode="json"),
        "plcs": {n: {"program_hash": p.hash, "cycle_ms": int(loaded.plcs.plcs[n].cycle)}
                 for n, p in loaded.programs.items()},
        "summary": kpi_summary(reps),
        "invariants": {inv: all(r["invariants"][inv]["ok"] for r in reps) for inv in reps[0]["invariants"]},
        "replications": reps,
    }


def dumps(journal: dict[str, Any]) -> str:
    return json.dumps(journal, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def write(journal: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(journal), encoding="utf-8")
    return path
