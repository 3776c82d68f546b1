"""The plant's network clients inside the twin, and the firewall they talk through.

HMI, historian and engineering workstation are SimPy processes. Every
request they send is a real decoded protocol operation (plcsim.requests);
the gateway classifies it, evaluates the conduit policy of the network model
and only then hands it to Plc.handle. A denied request never reaches the PLC
and is counted in the firewall log with the rule responsible. So a ruleset
that blocks the HMI's operator writes has a real effect: the operator cannot
restart the line after a stop.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from plcsim import requests as rq

HMI_POLL_MS = 1000.0
HISTORIAN_POLL_MS = 5000.0
LOG_LIMIT = 200  # firewall log entries kept per run (counts are kept for all)


class Gateway:
    def __init__(self, twin, network=None) -> None:
        self.twin = twin
        self.network = network
        self.policy = network.policy if network is not None else None
        self.log: list[dict[str, Any]] = []
        self.counts: Counter = Counter()  # (src, dst, op, "allowed"/"denied") -> n
        self._cache: dict[tuple, Any] = {}

    def set_policy(self, policy) -> None:
        self.policy = policy
        self._cache.clear()

    def send(self, src: str, dst: str, request: Any):
        """Deliver `request` from host `src` to PLC `dst`; None if the firewall drops it."""
        plc = self.twin.plcs[dst]
        if self.policy is None:
            return plc.handle(request)
        key = (src, dst, _key_of(request))
        hit = self._cache.get(key)
        if hit is None:  # classification and policy are pure: decide once per distinct request
            from ..net import evaluate, flow_of

            flow = flow_of(src, dst, request)
            hit = self._cache[key] = (evaluate(self.policy, flow), flow.op)
        decision, op = hit
        if not decision.allowed:
            self.counts[(src, dst, op, "denied")] += 1
            if len(self.log) < LOG_LIMIT:
                self.log.append({"t_ms": round(float(self.twin.env.now), 3), "src": src, "dst": dst, "op": op,
                                 "action": "deny", "rule": decision.where})
            return None
        self.counts[(src, dst, op, "allowed")] += 1
        return plc.handle(request)

    def observed(self) -> list[dict[str, Any]]:
        return [{"src": s, "dst": d, "op": o, "outcome": a, "count": n}
                for (s, d, o, a), n in sorted(self.counts.items())]


def _key_of(request: Any) -> tuple:
    if isinstance(request, rq.ModbusRequest):
        return ("mb", request.function_code, request.address, request.count, request.write_address,
                len(request.values))
    if isinstance(request, rq.OpcRead):
        return ("ua-r", request.paths)
    if isinstance(request, rq.OpcWrite):
        return ("ua-w", request.path)
    if isinstance(request, rq.OpcCall):
        return ("ua-c", request.method)
    return ("other", type(request).__name__, repr(request))


def hmi(env, gw: Gateway, host: str, plcs: list[str]):
    """The HMI polls its PLCs every second: status coils and holding registers."""
    reads = [rq.ModbusRequest(function_code=1, address=0, count=16),
             rq.ModbusRequest(function_code=3, address=0, count=8)]
    while True:
        for p in plcs:
            for r in reads:
                gw.send(host, p, r)
        yield env.timeout(HMI_POLL_MS)


def historian(env, gw: Gateway, host: str, tags: dict[str, tuple[str, ...]]):
    """The historian reads a batch of tags over OPC UA every few seconds."""
    while True:
        for p, paths in tags.items():
            gw.send(host, p, rq.OpcRead(paths))
        yield env.timeout(HISTORIAN_POLL_MS)


def start(twin, gw: Gateway, network) -> None:
    """Start the clients the network model declares (by role), for the PLCs that exist."""
    plcs = list(twin.plcs)
    roles = {h.name: h.role for h in network.topology.hosts if h.enabled}
    for name, role in roles.items():
        if role == "hmi":
            twin.env.process(hmi(twin.env, gw, name, [p for p in plcs if p in ("filler_plc", "line_plc", "qa_plc")]
                                 or plcs))
        elif role == "historian":
            tags = {p: tuple(t.path for t in twin.plcs[p].tags[:8]) for p in plcs}
            twin.env.process(historian(twin.env, gw, name, tags))
