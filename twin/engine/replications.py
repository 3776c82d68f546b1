"""Replications over seeds, in parallel across cores, with identical results either way.

Each replication is a pure function of (scenario, seed, replication), so the
process pool changes only the wall time. The loaded scenario travels to the
workers pickled (programs as source, recompiled there from a cache).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable

from scipy import stats

from .loading import LoadedScenario
from .virtual import replicate

def _worker(loaded: LoadedScenario, replication: int, skip: bool) -> dict[str, Any]:
    # the journal keeps full detail (fine samples, Gantt) for the first replication only
    return replicate(loaded, replication, detail=(replication == 0), skip_idle_scans=skip)


def run_replications(loaded: LoadedScenario, n: int, *, jobs: int | None = None, skip_idle_scans: bool = True,
                     on_done: Callable[[int], None] | None = None,
                     progress: Callable[[float], None] | None = None) -> list[dict[str, Any]]:
    jobs = max(1, min(n, jobs or os.cpu_count() or 1))
    if jobs == 1:
        out = []
        for r in range(n):
            out.append(replicate(loaded, r, detail=(r == 0), skip_idle_scans=skip_idle_scans,
                                 progress=progress if n == 1 else None))
            if on_done:
                on_done(r)
        return out
    results: dict[int, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_worker, loaded, r, skip_idle_scans): r for r in range(n)}
        for fut in as_completed(futures):
            r = futures[fut]
            results[r] = fut.result()
            if on_done:
                on_done(r)
    return [results[r] for r in range(n)]


def summary(values: list[float | None], confidence: float = 0.95) -> dict[str, Any]:
    """Mean, standard deviation and Student-t confidence interval of one KPI over replications."""
    xs = [v for v in values if v is not None]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci": None}
    mean = sum(xs) / n
    if n < 2:
        return {"n": n, "mean": round(mean, 6), "sd": None, "ci": None}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": round(mean, 6), "sd": round(sd, 6), "ci": [round(mean - half, 6), round(mean + half, 6)],
            "confidence": confidence}


def kpi_summary(reps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = list(reps[0]["kpis"])
    return {k: summary([r["kpis"][k] for r in reps]) for k in keys}
