"""Network model of the twin: IEC 62443 zones and conduits, rules, policy evaluation, static analysis.

    net = load_network("scenarios/bottling/network.yaml")            # or rules_override="rules/proposed.yaml"
    evaluate(net.policy, flow_of("hmi", "filler_plc", ModbusRequest(3, 0, 10)))  # -> Decision
    reachability(net)                                                  # -> matrix by operation class
    check_flows(net)                                                   # required/forbidden flows (or any given)
    diff(net_a, net_b)                                                 # -> [FlowChange]; differential(): + 3 steps
"""

from .atoms import ServiceClass
from .diff import DiffReport, FlowChange, diff, differential
from .flows import FlowResult, check_flows
from .lint import Finding, lint
from .loader import DeclaredFlow, Network, declare, load_network
from .ops import (OpcBrowse, OpcSubscribe, Flow, ProgramDownload, Service, TcpConnect, classify,
                  flow_of)
from .policy import Decision, Hop, Policy, evaluate
from .reach import MATRIX_OPS, Reachability, reachability

__all__ = ["load_network", "Network", "evaluate", "Decision", "Hop", "Policy", "reachability", "Reachability",
           "MATRIX_OPS", "diff", "differential", "DiffReport", "FlowChange", "check_flows", "FlowResult",
           "declare", "DeclaredFlow", "lint", "Finding", "classify", "flow_of", "Flow", "Service",
           "ProgramDownload", "OpcBrowse", "OpcSubscribe", "TcpConnect", "ServiceClass"]
