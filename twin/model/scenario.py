"""The scenario file: what to run, on which line, for how long."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .change import Change, Injection, Rollback, SteadyState
from .units import Duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(_Strict):
    id: str
    title: str = ""
    seed: int = Field(0, ge=0)
    attack_version: str | None = None


class Run(_Strict):
    mode: Literal["virtual", "realtime"] = "virtual"
    duration: Duration = Field(gt=0)
    warmup: Duration = 0.0
    replications: int = Field(1, ge=1, le=1000)
    sample: Duration = Field(60_000.0, gt=0, description="time-series sampling interval for plots")


class Scenario(_Strict):
    apiVersion: Literal["twin/v1"]
    metadata: Metadata
    line: str = Field(description="line YAML, relative to this file")
    plcs: str = Field(description="PLC YAML, relative to this file")
    network: str | None = None
    run: Run
    change: Change | None = Field(None, description="the change under test; absent = just the baseline")
    steady_state: SteadyState = SteadyState()
    injections: list[Injection] = []
    rollback: Rollback = Rollback()
