"""File schemas (pydantic): network.yaml and rules files. Cross-references are checked later, in
topology.py and rules.py, where the YAML lines are at hand for located errors."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from . import intervals
from .ops import ADDRESS_SPACE, OPCUA_SERVICES, OPS, PROTOCOLS, SECURITY_MODES, TABLES

ROLES = ("plc", "hmi", "historian", "ews", "it-workstation", "attacker", "firewall", "jump-host", "io")
PURDUE_LEVELS = (0, 1, 2, 3, 3.5, 4, 5)  # 3.5 is the industrial DMZ
DMZ_LEVEL = 3.5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_or_list(v):
    return v if isinstance(v, list) else [v]


def _nonempty(v):
    if isinstance(v, list) and not v:
        raise ValueError("an empty list matches nothing; leave the key out (or write any) to match everything")
    return v


def _set_of(lo: int, hi: int, what: str):
    return Annotated[Any, BeforeValidator(lambda v: intervals.parse(v, lo, hi, what))]


Ports = _set_of(1, 65535, "port")
FunctionCodes = _set_of(1, 127, "function code")
Addresses = _set_of(0, ADDRESS_SPACE - 1, "address")
Names = Annotated[list[str], BeforeValidator(_one_or_list), BeforeValidator(_nonempty)]
Security = Annotated[list[Literal[SECURITY_MODES]], BeforeValidator(_one_or_list),  # type: ignore[valid-type]
                     BeforeValidator(_nonempty)]
OpName = Literal[OPS]  # type: ignore[valid-type]


class Zone(_Strict):
    level: float = Field(description="Purdue level: 0 field, 1 control, 2 supervisory, 3 operations, "
                                     "3.5 DMZ, 4-5 enterprise")
    sl_t: int = Field(ge=1, le=4, description="IEC 62443 target security level")
    subnet: str = Field(description="IPv4 network, e.g. 10.40.0.0/24")
    description: str = ""

    @field_validator("level")
    @classmethod
    def _level(cls, v: float) -> float:
        if v not in PURDUE_LEVELS:
            raise ValueError(f"Purdue level {v:g} is not one of {', '.join(f'{x:g}' for x in PURDUE_LEVELS)}")
        return v

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, v: str) -> str:
        try:
            return str(ipaddress.IPv4Network(v))
        except ValueError as exc:
            raise ValueError(f"not an IPv4 network like 10.40.0.0/24: {exc}") from None


class Host(_Strict):
    zone: str
    role: Literal[ROLES]  # type: ignore[valid-type]
    address: str
    enabled: bool = Field(True, description="false: modelled but not started (the attacker, until a scenario "
                                            "enables it); the rules still apply to it")
    description: str = ""

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        try:
            return str(ipaddress.IPv4Address(v))
        except ValueError:
            raise ValueError(f"not an IPv4 address like 10.40.0.11: {v!r}") from None


class Firewall(_Strict):
    description: str = ""


class Conduit(_Strict):
    zones: list[str] = Field(min_length=2, max_length=2, description="the two zones it joins")
    firewall: str
    rules: str = Field(description="rules file, relative to network.yaml; its section named like this conduit")
    description: str = ""


class FlowSpec(_Strict):
    """A flow class: every request `op` from any host of `from` to any host of `to`, narrowed by the optional
    fields. Used by required_flows, forbidden_flows, a rules file's intent and a scenario's steady_state.flows."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: Names = Field(alias="from", description="host, zone, role:ROLE, CIDR or any (or a list)")
    to: Names
    op: Annotated[list[Literal[OPS + ("any",)]], BeforeValidator(_one_or_list),  # type: ignore[valid-type]
                  BeforeValidator(_nonempty)]
    expect: Literal["allowed", "denied"] | None = None
    port: Ports | None = None
    fc: FunctionCodes | None = None
    coils: Addresses | None = None
    discrete_inputs: Addresses | None = None
    holding_registers: Addresses | None = None
    input_registers: Addresses | None = None
    node: str | None = Field(None, description="OPC UA NodeId prefix")
    security: Security | None = None
    name: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self):
        ops = set(self.op)
        if ops & {"tcp", "udp"} and self.port is None:
            raise ValueError("a tcp or udp flow needs a port")
        if self.fc is not None or any(getattr(self, t) is not None for t in TABLES):
            if not ops <= {"modbus.read", "modbus.write", "modbus.diag", "modbus.other"}:
                raise ValueError("fc and register/coil ranges narrow Modbus operations only")
        if (self.node is not None or self.security is not None) and not all(o.startswith("opcua.") for o in ops):
            raise ValueError("node and security narrow OPC UA operations only")
        return self

    def tables(self) -> dict[str, intervals.Intervals] | None:
        given = {t: getattr(self, t) for t in TABLES if getattr(self, t) is not None}
        return given or None


class NetworkFile(_Strict):
    description: str = ""
    zones: dict[str, Zone] = Field(min_length=1)
    hosts: dict[str, Host] = {}
    firewalls: dict[str, Firewall] = {}
    conduits: dict[str, Conduit] = {}
    required_flows: list[FlowSpec] = []
    forbidden_flows: list[FlowSpec] = []


class ModbusMatch(_Strict):
    fc: FunctionCodes | None = None
    coils: Addresses | None = None
    discrete_inputs: Addresses | None = None
    holding_registers: Addresses | None = None
    input_registers: Addresses | None = None


class OpcuaMatch(_Strict):
    service: Annotated[list[Literal[OPCUA_SERVICES]], BeforeValidator(_one_or_list),  # type: ignore[valid-type]
                       BeforeValidator(_nonempty)] | None = None
    node: Annotated[list[str], BeforeValidator(_one_or_list), BeforeValidator(_nonempty)] | None = Field(
        None, description="NodeId prefix(es), case-insensitive")
    security: Security | None = None


class Rule(_Strict):
    """One rule. Source, destination, protocol and port compile to nftables directly; modbus and opcua
    matches need the OT-aware proxy."""

    action: Literal["allow", "deny"]
    src: Names = ["any"]
    dst: Names = ["any"]
    proto: Literal[PROTOCOLS] | None = None  # type: ignore[valid-type]
    port: Ports | None = None
    op: Annotated[list[OpName], BeforeValidator(_one_or_list), BeforeValidator(_nonempty)] | None = None
    modbus: ModbusMatch | None = None
    opcua: OpcuaMatch | None = None
    name: str = ""
    note: str = ""


class ConduitRules(_Strict):
    default: Literal["allow", "deny"] = Field(description="the action when no rule matches; always explicit")
    rules: list[Rule] = []


class RulesFile(_Strict):
    description: str = ""
    conduits: dict[str, ConduitRules] = Field(min_length=1)
    intent: list[FlowSpec] = Field([], description="flows this rule set means to change, with their new outcome")
