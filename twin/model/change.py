"""What `twin validate` checks: the change under test, steady state, injections, rollback."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .units import Duration

KPIS = ("oee", "availability", "availability_excl_starved_blocked", "effectiveness", "quality", "scrap_ratio",
        "throughput_per_h", "good_per_h", "mtbf_h", "mttr_min")
LOWER_IS_BETTER = frozenset({"scrap_ratio", "mttr_min"})
INVARIANTS = ("tank_no_overflow", "no_motion_with_guard_open", "rejects_never_packed")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _percent(value) -> float:
    """'-2%' -> -0.02; a bare number is a fraction (-0.02)."""
    if isinstance(value, bool):
        raise ValueError("expected a percentage like -2%")
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    if not s.endswith("%"):
        raise ValueError(f"expected a percentage like -2% (got {value!r})")
    try:
        return float(s[:-1]) / 100.0
    except ValueError:
        raise ValueError(f"expected a percentage like -2% (got {value!r})") from None


Percent = Annotated[float, BeforeValidator(_percent)]


class PlcProgramChange(_Strict):
    plc: str
    program: str = Field(description="the new ST program, relative to this file")
    version: str | None = Field(None, description="version label (default: content hash)")


class SetpointChange(_Strict):
    plc: str
    tag: str
    value: float | int | bool


class RulesChange(_Strict):
    conduit: str
    file: str


class Change(_Strict):
    plc_program: PlcProgramChange | None = None
    setpoint: SetpointChange | None = None
    rules: RulesChange | None = None
    at: Duration = Field(0.0, description="0 = from the start (a fresh download); later = online change at "
                                          "a scan boundary at that time")

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("plc_program", "setpoint", "rules") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a change has exactly one of plc_program, setpoint, rules")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("plc_program", "setpoint", "rules") if getattr(self, k) is not None)


class RelativeTolerance(_Strict):
    vs_baseline: Percent = Field(description="allowed relative change of the mean, e.g. -2% (at most 2 % worse)")


class EquivalenceTolerance(_Strict):
    equivalence: Percent = Field(gt=0, description="the paired difference's CI must lie within +- this, "
                                                   "relative to the baseline mean")


def _range(value):
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError("an absolute tolerance is [low, high]; use null for an open end")
        return {"low": value[0], "high": value[1]}
    return value


class AbsoluteTolerance(_Strict):
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _some(self):
        if self.low is None and self.high is None:
            raise ValueError("an absolute tolerance needs a low or a high bound")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("absolute tolerance has low > high")
        return self


Tolerance = Union[RelativeTolerance, EquivalenceTolerance, Annotated[AbsoluteTolerance, BeforeValidator(_range)]]


class KpiCheck(_Strict):
    kpi: Literal[KPIS]  # type: ignore[valid-type]
    tolerance: Tolerance
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    severity: Literal["hard", "soft"] = "hard"


class SteadyState(_Strict):
    kpis: list[KpiCheck] = []
    invariants: list[Literal[INVARIANTS]] = list(INVARIANTS)  # type: ignore[valid-type]


class Injection(_Strict):
    """A fault or an attack at a time, applied to the baseline and the candidate alike."""

    at: Duration
    fault: Literal["station_failure", "estop", "guard_open", "pump_stuck_on", "level_sensor_stuck"] | None = None
    station: str | None = None
    for_: Duration | None = Field(None, alias="for")
    value: float | None = None
    technique: str | None = Field(None, pattern=r"^T0\d{3}$", description="MITRE ATT&CK for ICS technique id")
    from_: str | None = Field(None, alias="from", description="attacking host in the network model")
    to: str | None = Field(None, description="target PLC (attacks)")
    set: dict[str, float | int | bool] | None = Field(None, description="tags the attack writes")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.fault is None) == (self.technique is None):
            raise ValueError("an injection is either a fault or a technique (attack)")
        if self.technique is not None and (self.to is None or not self.set):
            raise ValueError("an attack injection needs 'to' (a PLC) and 'set' (tag: value)")
        if self.fault == "station_failure" and (self.station is None or self.for_ is None):
            raise ValueError("station_failure needs 'station' and 'for'")
        return self


class RecoversWithin(_Strict):
    recovers_within: Duration


class Rollback(_Strict):
    steps: list[Literal["restore_baseline"]] = ["restore_baseline"]
    verify: list[Union[Literal["state_equals_baseline", "steady_state"], RecoversWithin]] = [
        "state_equals_baseline", "steady_state", RecoversWithin(recovers_within="10m")]
    observe: Duration = Field(1_800_000.0, gt=0, description="how long the steady state is observed after recovery")
