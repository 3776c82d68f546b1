"""The PLCs of a line: program file, cycle, protocol ports, config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .units import Duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlcSpec(_Strict):
    program: str = Field(description="ST file, relative to this file")
    cycle: Duration = Field(10.0, description="scan cycle")
    modbus_port: int = Field(0, ge=0, le=65535, description="real-time mode; 0 picks a free port")
    opcua_port: int = Field(0, ge=0, le=65535, description="real-time mode; 0 picks a free port")
    config: str | None = Field(None, description="plcsim config YAML (identity, tag map, safe state)")
    vendor: str = "twin"
    model: str = "plcsim"


class Plcs(_Strict):
    plcs: dict[str, PlcSpec]
