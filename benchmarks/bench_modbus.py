"""plcsim's Modbus TCP server against a bare pymodbus server, same machine, same run.

    .venv/bin/python benchmarks/bench_modbus.py [--seconds 1.5] [--rounds 3] [--regs 100]

Both servers hold the same number of holding registers: plcsim as N INT
variables %QW0..%QW(N-1) of a compiled ST program that is also scanned every
10 ms (as in real-time mode); bare pymodbus as a ModbusSequentialDataBlock.
Each server runs in its own subprocess so client and server never share a
loop or a core's time slices unfairly. The client is a minimal asyncio
Modbus client (pre-encoded frames) so that it costs far less than the
servers and the figures measure the servers.

Workloads: FC 3 read of 10 registers, and FC 16 write of 10 registers; each
sequential (1 connection, one request in flight) and with 8 concurrent
connections. Rounds alternate bare / plcsim to spread machine noise evenly;
the best round of each is reported, with p50/p99 latency from that round.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
READ_COUNT = 10


# ------------------------------------------------------------------ servers
def _plcsim_source(n: int) -> str:
    decls = "\n".join(f"  r{i} AT %QW{i} : INT;" for i in range(n))
    return f"PROGRAM Main\nVAR\n{decls}\n  tick : DINT;\nEND_VAR\ntick := tick + 1;\nEND_PROGRAM\n"


async def _serve(kind: str, n: int) -> None:
    logging.getLogger("pymodbus").setLevel(logging.ERROR)  # the deprecation notice is expected here
    if kind == "plcsim":
        from plcsim.protocols.modbus_server import start_modbus_server
        from plcsim.runtime import Plc

        plc = Plc(_plcsim_source(n), cycle_ms=10)
        handle = await start_modbus_server(plc, HOST, 0)
        port = handle.port

        async def scans() -> None:  # the PLC keeps scanning while it serves, as in real-time mode
            t0 = time.monotonic()
            while True:
                plc.scan(int((time.monotonic() - t0) * 1000))
                await asyncio.sleep(plc.cycle_ms / 1000)

        asyncio.get_running_loop().create_task(scans())
    else:
        from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
        from pymodbus.server import ModbusTcpServer

        # ModbusSequentialDataBlock(1, ...) is addresses 0..n-1 in pymodbus 3.16 (it stores address-1)
        ctx = ModbusServerContext(ModbusDeviceContext(hr=ModbusSequentialDataBlock(1, [0] * n)))
        server = ModbusTcpServer(ctx, address=(HOST, 0))
        await server.serve_forever(background=True)
        port = server.transport.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    # serve until the parent closes our stdin
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# ------------------------------------------------------------------- client
def _frame(tid: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid & 0xFFFF, 0, len(pdu) + 1, 1) + pdu


READ_PDU = struct.pack(">BHH", 3, 0, READ_COUNT)
WRITE_PDU = struct.pack(f">BHHB{READ_COUNT}H", 16, 0, READ_COUNT, 2 * READ_COUNT, *range(READ_COUNT))


async def _client(port: int, pdu: bytes, deadline: float, lat: list[float]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    frames = [_frame(t, pdu) for t in range(1, 257)]
    i = 0
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            writer.write(frames[i & 0xFF])
            head = await reader.readexactly(6)
            body = await reader.readexactly(struct.unpack_from(">H", head, 4)[0])
            lat.append(time.perf_counter() - t0)
            if body[1] & 0x80:
                raise RuntimeError(f"server answered exception {body[2]}")
            i += 1
    finally:
        writer.close()


def _run_load(port: int, pdu: bytes, clients: int, seconds: float) -> tuple[float, float, float]:
    async def go() -> list[list[float]]:
        lats: list[list[float]] = [[] for _ in range(clients)]
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, pdu, deadline, lats[c]) for c in range(clients)))
        return lats

    t0 = time.perf_counter()
    lats = asyncio.run(go())
    elapsed = time.perf_counter() - t0
    allv = sorted(v for lst in lats for v in lst)
    rate = len(allv) / elapsed
    return rate, allv[len(allv) // 2] * 1e6, allv[int(len(allv) * 0.99)] * 1e6


class _ServerProc:
    def __init__(self, kind: str, n: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--regs", str(n)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.port = int(line.split()[1])

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", choices=["plcsim", "bare"])
    ap.add_argument("--regs", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.regs))
        return

    servers = {k: _ServerProc(k, args.regs) for k in ("bare", "plcsim")}
    best: dict[tuple[str, str, int], tuple[float, float, float]] = {}
    try:
        for _ in range(args.rounds):
            for wl, pdu in (("read10", READ_PDU), ("write10", WRITE_PDU)):
                for clients in (1, 8):
                    for kind in ("bare", "plcsim"):
                        r = _run_load(servers[kind].port, pdu, clients, args.seconds)
                        key = (wl, kind, clients)
                        if key not in best or r[0] > best[key][0]:
                            best[key] = r
    finally:
        for s in servers.values():
            s.close()

    print(f"Modbus TCP, {args.regs} holding registers, {os.cpu_count()} CPUs, best of {args.rounds} x {args.seconds}s")
    print(f"{'workload':10} {'clients':>7} {'server':>7} {'req/s':>9} {'p50 us':>8} {'p99 us':>8}")
    for wl in ("read10", "write10"):
        for clients in (1, 8):
            for kind in ("bare", "plcsim"):
                rate, p50, p99 = best[(wl, kind, clients)]
                print(f"{wl:10} {clients:7} {kind:>7} {rate:9.0f} {p50:8.0f} {p99:8.0f}")
            ratio = best[(wl, "plcsim", clients)][0] / best[(wl, "bare", clients)][0]
            print(f"{'':10} {'':7} {'ratio':>7} {ratio:8.2f}x  (plcsim / bare, goal >= 0.9x)")


if __name__ == "__main__":
    main()
