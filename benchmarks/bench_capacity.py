"""Capacity: how many plcsim PLCs at a 10 ms cycle one process hosts with p99 scan lateness <= 2 ms.

Each PLC runs the reference program (benchmarks/reference.st) on the real-time
scan loop; lateness is how long after its slot on the 10 ms grid each scan
starts. The script doubles the PLC count until p99 passes the limit and prints
the table; it also prints an idle-loop baseline (1 PLC) for comparison.

    .venv/bin/python benchmarks/bench_capacity.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plcsim.runtime import Plc  # noqa: E402
from plcsim.scan_loop import ScanLoop  # noqa: E402
from plcsim.st.compiler import compile_source  # noqa: E402

LIMIT_US = 2000.0


async def measure(n: int, seconds: float, compiled) -> tuple[float, float, int]:
    plcs = [Plc(compiled, name=f"plc{i}", cycle_ms=10) for i in range(n)]
    loop = ScanLoop(plcs, keep_lateness=2_000_000)
    loop.start()
    await asyncio.sleep(0.5)  # warm-up
    loop.lateness_us.clear()
    await asyncio.sleep(seconds)
    await loop.stop()
    lat = np.array(loop.lateness_us)
    overruns = sum(p.diag.overruns for p in plcs)
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), overruns


async def main_async(seconds: float, max_n: int) -> None:
    compiled = compile_source((Path(__file__).parent / "reference.st").read_text(), "reference.st")
    print(f"{'PLCs':>6} {'p50 lateness':>14} {'p99 lateness':>14} {'overruns':>9}")
    best = 0
    n = 1
    while n <= max_n:
        p50, p99, over = await measure(n, seconds, compiled)
        ok = p99 <= LIMIT_US
        print(f"{n:>6} {p50:>11.0f} us {p99:>11.0f} us {over:>9}  {'ok' if ok else 'over 2 ms'}")
        if not ok:
            break
        best = n
        n *= 2
    print(f"capacity: {best} PLCs at 10 ms with p99 lateness <= 2 ms (power-of-two search)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--max", type=int, default=4096)
    args = ap.parse_args()
    asyncio.run(main_async(args.seconds, args.max))


if __name__ == "__main__":
    main()
