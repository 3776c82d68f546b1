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


def parallel(fn: Callable[..., dict[str, Any]], loaded: LoadedScenario, n: int, args: tuple = (), *,
             jobs: int | None = None, on_done: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """fn(loaded, replication, *args) for replications 0..n-1 across processes, in replication order."""
    jobs = max(1, min(n, jobs or os.cpu_count() or 1))
    results: dict[int, dict[str, Any]] = {}
    if jobs == 1:
        for r in range(n):
            results[r] = fn(loaded, r, *args)
            if on_done:
                on_done(r)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(fn, loaded, r, *args): r for r in range(n)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                if on_done:
                    on_done(futures[fut])
    return [results[r] for r in range(n)]


def run_replications(loaded: LoadedScenario, n: int, *, jobs: int | None = None, skip_idle_scans: bool = True,
                     on_done: Callable[[int], None] | None = None,
                     progress: Callable[[float], None] | None = None) -> list[dict[str, Any]]:
    if n == 1 and progress is not None:  # one replication in-process, with a progress bar
        out = [replicate(loaded, 0, detail=True, skip_idle_scans=skip_idle_scans, progress=progress)]
        if on_done:
            on_done(0)
        return out
    return parallel(_worker, loaded, n, (skip_idle_scans,), jobs=jobs, on_done=on_done)


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
