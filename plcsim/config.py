"""PLC configuration: device identity, extra Modbus tag map, safe state, read-only tags.

Loaded from an optional YAML file (``plcsim serve prog.st --config plc.yaml``)::

    identity: {vendor: "twin", product: "plcsim", version: "1.0.0"}
    tag_map:                          # unlocated variables on Modbus
      - {tag: Main.level, table: holding_registers, address: 100}   # REAL -> 2 registers
      - {tag: Main.running, table: coils, address: 40}
    safe_state: {motor: false}        # outputs in STOP (default: FALSE / 0)
    read_only: [Main.setpoint]        # not writable from protocols
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .tags import COILS, DISCRETE_INPUTS, HOLDING, INPUT_REGISTERS

TABLES = (COILS, DISCRETE_INPUTS, HOLDING, INPUT_REGISTERS)


class ConfigError(ValueError):
    """A located configuration error: 'file:line: field: message'."""


@dataclass(frozen=True)
class TagMapEntry:
    tag: str
    table: str
    address: int
    line: int = 0


@dataclass
class PlcConfig:
    vendor: str = "twin"
    product: str = "plcsim"
    product_code: str = "PLCSIM"
    version: str = "0.1.0"
    vendor_url: str = ""
    model: str = "plcsim soft PLC"
    tag_map: list[TagMapEntry] = field(default_factory=list)
    safe_state: dict[str, Any] = field(default_factory=dict)
    read_only: list[str] = field(default_factory=list)
    source: str = "<defaults>"

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "<config>", lines: dict[str, int] | None = None) -> "PlcConfig":
        lines = lines or {}

        def err(key: str, msg: str) -> ConfigError:
            return ConfigError(f"{source}:{lines.get(key, 1)}: {key}: {msg}")

        known = {"identity", "tag_map", "safe_state", "read_only"}
        for key in data:
            if key not in known:
                raise err(key, f"unknown key; expected one of {', '.join(sorted(known))}")
        cfg = cls(source=source)
        ident = data.get("identity") or {}
        if not isinstance(ident, dict):
            raise err("identity", "must be a mapping")
        for k, v in ident.items():
            attr = {"vendor": "vendor", "product": "product", "product_code": "product_code", "version": "version",
                    "vendor_url": "vendor_url", "model": "model"}.get(k)
            if attr is None:
                raise err("identity", f"unknown field {k!r}")
            setattr(cfg, attr, str(v))
        entries = data.get("tag_map") or []
        if not isinstance(entries, list):
            raise err("tag_map", "must be a list")
        for i, e in enumerate(entries):
            line = getattr(e, "_line", lines.get(f"tag_map[{i}]", lines.get("tag_map", 1)))
            if not isinstance(e, dict) or set(e) - {"tag", "table", "address"} or not {"tag", "table", "address"} <= set(e):
                raise ConfigError(f"{source}:{line}: tag_map[{i}]: needs exactly tag, table, address")
            if e["table"] not in TABLES:
                raise ConfigError(f"{source}:{line}: tag_map[{i}].table: {e['table']!r} is not one of {', '.join(TABLES)}")
            if not isinstance(e["address"], int) or not 0 <= e["address"] <= 0xFFFF:
                raise ConfigError(f"{source}:{line}: tag_map[{i}].address: must be an integer 0..65535")
            cfg.tag_map.append(TagMapEntry(str(e["tag"]), e["table"], e["address"], line))
        safe = data.get("safe_state") or {}
        if not isinstance(safe, dict):
            raise err("safe_state", "must be a mapping of output name to value")
        cfg.safe_state = dict(safe)
        ro = data.get("read_only") or []
        if not isinstance(ro, list):
            raise err("read_only", "must be a list of tag names")
        cfg.read_only = [str(x) for x in ro]
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "PlcConfig":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{path}:0: cannot read config: {exc.strerror}") from None
        try:
            node = yaml.compose(text)
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            raise ConfigError(f"{path}:{line}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}:1: config must be a mapping")
        lines: dict[str, int] = {}
        if node is not None and isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines[k.value] = k.start_mark.line + 1
                if k.value == "tag_map" and isinstance(v, yaml.SequenceNode):
                    for i, item in enumerate(v.value):
                        lines[f"tag_map[{i}]"] = item.start_mark.line + 1
        return cls.from_mapping(data, str(path), lines)
