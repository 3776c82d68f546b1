"""Schemas of scenario, line and PLC files (pydantic v2), loaded with line numbers in errors."""

from .change import Change, Injection, KpiCheck, Rollback, SteadyState
from .errors import ScenarioError
from .line import Binding, Buffer, FailureMode, Line, Operator, Station, Tank
from .plcs import PlcSpec, Plcs
from .scenario import Metadata, Run, Scenario

__all__ = ["Change", "Injection", "KpiCheck", "Rollback", "SteadyState", "ScenarioError", "Binding", "Buffer", "FailureMode", "Line", "Operator", "Station", "Tank",
           "PlcSpec", "Plcs", "Metadata", "Run", "Scenario"]
