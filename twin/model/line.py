"""The production line: stations, buffers, tank, operator behaviour, PLC bindings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .units import Distribution, Duration, Fixed, Probability


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FailureMode(_Strict):
    """Time to failure is exponential in *operating* time (a stopped machine does not wear)."""

    name: str
    kind: Literal["breakdown", "microstop"] = "breakdown"
    mtbf: Duration = Field(gt=0, description="mean operating time between failures")
    mttr: Distribution = Field(description="repair (or clearing) time")


class Station(_Strict):
    kind: Literal["source", "filler", "machine", "inspection", "sink"]
    cycle: Distribution | None = Field(
        None, description="processing time; for the filler the mechanical index time (the fill is the PLC's)")
    failures: list[FailureMode] = []
    defect_rate: Probability = 0.0
    detect_prob: Probability = Field(1.0, description="inspection: probability a defect is seen")
    gate_time: Duration = Field(150.0, description="inspection: how long a bottle waits at the reject gate")
    handshake: Duration = Field(
        50.0, description="filler: PLC reaction time counted as cycle time; longer holds are STOPPED")


class Buffer(_Strict):
    capacity: int = Field(ge=1, le=100_000)


class Tank(_Strict):
    capacity: float = Field(gt=0, description="litres")
    initial: float = Field(ge=0, le=100, description="% of capacity at start")
    pump_flow: float = Field(ge=0, description="L/s into the tank while pump AND inlet valve are on")
    fill_flow: float = Field(gt=0, description="L/s into a bottle while the fill valve is open")
    bottle_volume: float = Field(gt=0, description="nominal litres per bottle")
    min_fill: float = Field(gt=0, description="litres below which a bottle is an underfill defect")
    step: Duration = Field(100.0, gt=0, description="integration and level-sensor update step")


class Operator(_Strict):
    guard_open_on_failure: Probability = Field(
        0.0, description="probability the operator opens the guard door to clear a breakdown")
    restart_delay: Distribution = Fixed(dist="fixed", value="30s")
    restart_via: Literal["pushbutton", "hmi"] = "pushbutton"


class Binding(_Strict):
    signal: str
    plc: str
    tag: str
    scale: float = Field(1.0, description="sensor raw value = signal x scale (rounded for integer tags)")


class Line(_Strict):
    name: str
    kpi_station: str = Field(description="the constraint station whose time elements stand for the line")
    ideal_rate: float = Field(gt=0, description="ideal rate of the kpi station, units per minute")
    flow: list[str] = Field(min_length=3, description="station, buffer, station, ... from source to sink")
    stations: dict[str, Station]
    buffers: dict[str, Buffer]
    tank: Tank | None = None
    operator: Operator = Operator()
    bindings: list[Binding] = []
