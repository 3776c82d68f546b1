"""OPC UA server of plcsim: start-up, stop, publish cost, batched reads, data-change rate.

Run: ``.venv/bin/python benchmarks/bench_opcua.py [--tags 500] [--changing 100]``

Start-up, stop and publish cost are measured in this process. Reads and
data changes are measured against a server in a child process (scanning its
PLC every cycle, as ``plcsim serve`` does), so client and server do not share
one interpreter; the client is the real asyncua client over 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asyncua import Client, Server, ua  # noqa: E402

from plcsim.protocols.opcua_server import start_opcua_server  # noqa: E402
from plcsim.runtime import Plc  # noqa: E402


def bench_source(tags: int, changing: int) -> str:
    """A program with ``tags`` DINTs, the first ``changing`` of which count up every scan."""
    decls = "\n".join(f"  c{i} : DINT;" for i in range(tags))
    body = "\n".join(f"c{i} := c{i} + 1;" for i in range(changing))
    return f"PROGRAM Bench\nVAR\n{decls}\nEND_VAR\n{body}\nEND_PROGRAM\n"


def ms(x: float) -> str:
    return f"{x * 1e3:8.2f} ms"


def us(x: float) -> str:
    return f"{x * 1e6:8.1f} us"


# ------------------------------------------------------------------ in-process parts


async def bench_lifecycle(src: str, changing: int, cycle_ms: int) -> None:
    t = time.perf_counter()
    bare = Server()
    await bare.init()
    init_s = time.perf_counter() - t  # stock asyncua, GC on: the figure DESIGN.md quotes
    del bare
    starts, stops, stops_busy = [], [], []
    for i in range(3):
        plc = Plc(src, name="bench", cycle_ms=cycle_ms)
        h = await start_opcua_server(plc, "opc.tcp://127.0.0.1:0")
        starts.append(h.start_s)
        if i == 0:
            await bench_publish(plc, h, changing)
        busy = i == 2  # last round: stop with a client connected and subscribed
        if busy:
            client = Client(h.endpoint)
            await client.connect()
            sub = await client.create_subscription(cycle_ms, None)
            ns = h.namespaces["bench"]
            await sub.subscribe_data_change([client.get_node(ua.NodeId("Bench.c0", ns))])
        t = time.perf_counter()
        await h.stop()
        (stops_busy if busy else stops).append(time.perf_counter() - t)
        if busy:
            try:
                await client.disconnect()
            except Exception:
                pass
    start = statistics.median(starts)
    print(f"stock asyncua Server.init()       {ms(init_s)}")
    print(f"start_opcua_server (median of 3)  {ms(start)}   = {start / init_s:.2f} x stock Server.init, "
          f"{start * 1000 / cycle_ms:.0f} PLC cycles of {cycle_ms} ms")
    print(f"stop(), idle (median of 2)        {ms(statistics.median(stops))}")
    print(f"stop(), 1 client subscribed       {ms(stops_busy[0])}")


async def bench_publish(plc: Plc, h, changing: int) -> None:
    reps = 200
    h.publish()
    t = time.perf_counter()
    for _ in range(reps):
        h.publish()
    idle = (time.perf_counter() - t) / reps
    now = 0
    cost = 0.0
    for _ in range(reps):
        now += plc.cycle_ms
        plc.scan(now)
        t = time.perf_counter()
        h.publish()
        cost += time.perf_counter() - t
    busy = cost / reps
    n = len(plc.tags)
    print(f"publish(), nothing changed        {us(idle)}  ({n} tags; {idle * 1e9 / n:.0f} ns/tag)")
    print(f"publish(), {changing} tags changed       {us(busy)}  = {busy * 1000 / plc.cycle_ms * 100:.2f} % "
          f"of a {plc.cycle_ms} ms cycle; {(busy - idle) * 1e6 / changing:.2f} us per changed value")


# --------------------------------------------------------------- against a child server


async def serve(tags: int, changing: int, cycle_ms: int) -> None:
    plc = Plc(bench_source(tags, changing), name="bench", cycle_ms=cycle_ms)
    h = await start_opcua_server(plc, "opc.tcp://127.0.0.1:0")
    print(h.endpoint, h.namespaces["bench"], flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    t0, cpu0 = time.monotonic(), time.process_time()
    slot = 0.0
    late = 0  # scans that started a whole cycle or more after their slot
    while not stdin_closed.done():
        now = time.monotonic() - t0
        late += now - slot >= cycle_ms / 1000
        plc.scan(int(now * 1000))
        slot += cycle_ms / 1000
        await asyncio.sleep(max(0.0, t0 + slot - time.monotonic()))
    await h.stop()
    wall = time.monotonic() - t0
    print(f"server process: {plc.diag.scan_count} scans in {wall:.1f} s, {late} late by a cycle or more, "
          f"CPU {(time.process_time() - cpu0) / wall * 100:.0f} % of one core", file=sys.stderr)


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def datachange_notification(self, node, val, data):
        self.n += 1


async def bench_remote(tags: int, changing: int, cycle_ms: int) -> None:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--tags", str(tags), "--changing", str(changing),
         "--cycle-ms", str(cycle_ms)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    t_start, cpu0 = time.perf_counter(), time.process_time()
    try:
        endpoint, ns = child.stdout.readline().split()
        async with Client(endpoint) as client:
            nodes = [client.get_node(ua.NodeId(f"Bench.c{i}", int(ns))) for i in range(tags)]
            for n in (1, 10, 100, tags):
                reps = 300 if n <= 100 else 100
                await client.read_values(nodes[:n])
                times = []
                for _ in range(reps):
                    t = time.perf_counter()
                    await client.read_values(nodes[:n])
                    times.append(time.perf_counter() - t)
                times.sort()
                med, p95 = statistics.median(times), times[int(0.95 * len(times))]
                print(f"read {n:4d} nodes in one request    median {us(med)}  p95 {us(p95)}  "
                      f"({med * 1e6 / n:.1f} us/node)")
            counter = _Counter()
            sub = await client.create_subscription(cycle_ms, counter)
            await sub.subscribe_data_change(nodes[:changing])
            await asyncio.sleep(1.0)  # initial values and warm-up
            c0, t0 = counter.n, time.perf_counter()
            await asyncio.sleep(5.0)
            rate = (counter.n - c0) / (time.perf_counter() - t0)
            expected = changing * 1000 / cycle_ms
            print(f"data changes received             {rate:8.0f} /s  ({changing} items, cycle {cycle_ms} ms: "
                  f"{rate / expected:.2f} of the {expected:.0f}/s the PLC produces)")
            print(f"client process CPU                {(time.process_time() - cpu0) / (time.perf_counter() - t_start) * 100:8.0f} % "
                  "of one core (asyncua client decoding)")
            await sub.delete()
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=500)
    ap.add_argument("--changing", type=int, default=100)
    ap.add_argument("--cycle-ms", type=int, default=10)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    # the client logs a traceback when the server stops under it, which is what one round measures
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    if a.serve:
        asyncio.run(serve(a.tags, a.changing, a.cycle_ms))
        return
    print(f"PLC: {a.tags} DINT tags, {a.changing} change every scan, cycle {a.cycle_ms} ms")
    asyncio.run(bench_lifecycle(bench_source(a.tags, a.changing), a.changing, a.cycle_ms))
    asyncio.run(bench_remote(a.tags, a.changing, a.cycle_ms))


if __name__ == "__main__":
    main()
