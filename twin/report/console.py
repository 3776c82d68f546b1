"""The KPI table printed after a run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

LABELS = [
    ("oee", "OEE", "pct"), ("availability", "Availability (APT/PBT)", "pct"),
    ("availability_excl_starved_blocked", "Availability excl. starved/blocked", "pct"),
    ("effectiveness", "Effectiveness (PRU·PQ/APT)", "pct"), ("quality", "Quality ratio (GQ/PQ)", "pct"),
    ("scrap_ratio", "Scrap ratio (SQ/PQ)", "pct"), ("throughput_per_h", "Throughput (PQ/h)", "num"),
    ("good_per_h", "Good bottles per hour", "num"), ("mtbf_h", "MTBF of the constraint (h)", "num2"),
    ("mttr_min", "MTTR of the constraint (min)", "num2"),
]


def fmt(v: float | None, kind: str) -> str:
    if v is None:
        return "-"
    if kind == "pct":
        return f"{100 * v:.2f} %"
    if kind == "num2":
        return f"{v:.2f}"
    return f"{v:,.0f}"


def print_run(journal: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    sc = journal["scenario"]
    n = journal["run"]["replications"]
    hours = (journal["run"]["duration_ms"] - journal["run"]["warmup_ms"]) / 3_600_000
    table = Table(title=f"{sc['id']}: {sc['title']}  ({n} replication{'s' if n > 1 else ''}, "
                        f"{hours:g} h measured after warm-up)")
    table.add_column("KPI (ISO 22400-2)")
    table.add_column("mean", justify="right")
    if n > 1:
        table.add_column("95 % CI", justify="right")
    for key, label, kind in LABELS:
        s = journal["summary"].get(key)
        if s is None:
            continue
        row = [label, fmt(s["mean"], kind)]
        if n > 1:
            row.append("-" if not s.get("ci") else f"{fmt(s['ci'][0], kind)} .. {fmt(s['ci'][1], kind)}")
        table.add_row(*row)
    console.print(table)
    inv = journal["invariants"]
    marks = ", ".join(f"{k} {'ok' if ok else 'BROKEN'}" for k, ok in inv.items())
    console.print(f"safety invariants: {marks}")
