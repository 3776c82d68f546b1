"""Load a scenario with everything it references, and check it before anything runs.

Every mistake becomes one ScenarioError naming the file, the line and the
field: YAML syntax, unknown keys (with the closest valid one), missing
files, unknown PLC tags in bindings, ST errors in referenced programs,
negative durations, a flow that does not connect.
"""

from __future__ import annotations

import difflib
import os
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plcsim.config import ConfigError, PlcConfig
from plcsim.st.compiler import CompiledProgram, compile_file
from plcsim.st.errors import StCompileError

from ..model import Line, Plcs, Scenario, ScenarioError
from ..model.signals import catalogue
from ..model.validate_doc import validate
from ..model.yaml_source import YamlDoc, load_yaml


@dataclass
class LoadedScenario:
    path: Path
    scenario: Scenario
    line: Line
    plcs: Plcs
    programs: dict[str, CompiledProgram]
    plc_configs: dict[str, PlcConfig]
    files: dict[str, str] = field(default_factory=dict)  # path relative to the scenario -> sha256
    change_program: CompiledProgram | None = None  # the candidate program of a plc_program change
    network: Any = None            # twin.net.Network when the scenario models its network
    change_network: Any = None     # the network with a `rules` change applied

    def __getstate__(self) -> dict:
        # compiled programs hold generated classes; ship their sources and recompile (cached)
        state = dict(self.__dict__)
        state["programs"] = {n: (p.source, p.filename) for n, p in self.programs.items()}
        cp = self.change_program
        state["change_program"] = None if cp is None else (cp.source, cp.filename)
        # networks hold compiled matchers: ship how to load them instead
        n, cn = self.network, self.change_network
        state["network"] = None if n is None else (n.file,)
        ch = self.scenario.change
        state["change_network"] = None if cn is None else (n.file, cn.override, ch.rules.conduit)
        return state

    def __setstate__(self, state: dict) -> None:
        from plcsim.st.compiler import compile_source

        state = dict(state)
        state["programs"] = {n: compile_source(src, fn) for n, (src, fn) in state["programs"].items()}
        if state.get("change_program") is not None:
            state["change_program"] = compile_source(*state["change_program"])
        if state.get("network") is not None or state.get("change_network") is not None:
            from ..net import load_network

            if state.get("network") is not None:
                state["network"] = load_network(state["network"][0])
            if state.get("change_network") is not None:
                f, override, conduit = state["change_network"]
                state["change_network"] = load_network(f, rules_override=override, conduits=[conduit])
        self.__dict__.update(state)

    @property
    def hash(self) -> str:
        h = hashlib.sha256()
        for name, digest in sorted(self.files.items()):
            h.update(f"{name}\0{digest}\n".encode())
        return h.hexdigest()

    @property
    def bound_actuators(self) -> set[str]:
        return {b.signal for b in self.line.bindings if catalogue(self.line)[b.signal][0] == "actuator"}


def _display(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_scenario(path: str | Path, *, cwd: Path | None = None) -> LoadedScenario:
    path = Path(path)
    cwd = cwd or Path.cwd()
    files: dict[str, str] = {}
    sdoc = _load(path, cwd, files)
    scenario = validate(sdoc, Scenario)
    base = path.parent
    line_path = _ref(sdoc, ("line",), base, scenario.line)
    ldoc = _load(line_path, cwd, files)
    line = validate(ldoc, Line)
    _check_line(ldoc, line)
    plcs_path = _ref(sdoc, ("plcs",), base, scenario.plcs)
    pdoc = _load(plcs_path, cwd, files)
    plcs = validate(pdoc, Plcs)
    network = None
    if scenario.network is not None:
        from ..net import load_network

        net_path = _ref(sdoc, ("network",), base, scenario.network)
        _record(files, net_path)
        network = load_network(net_path)
        for rf in set(network.rules_files.values()):
            _record(files, Path(rf))
    if scenario.run.warmup >= scenario.run.duration:
        raise sdoc.error(("run", "warmup"), "warm-up must be shorter than the run duration")
    programs, configs = _compile_plcs(pdoc, plcs, plcs_path.parent, cwd, files)
    _check_bindings(ldoc, line, programs)
    change_program = _check_change(sdoc, scenario, base, cwd, files, line, programs, network)
    change_network = None
    if scenario.change is not None and scenario.change.rules is not None:
        from ..net import load_network

        rules = _ref(sdoc, ("change", "rules", "file"), base, scenario.change.rules.file)
        _record(files, rules)
        change_network = load_network(net_path, rules_override=rules, conduits=[scenario.change.rules.conduit])
    files.pop("__base__", None)
    return LoadedScenario(path, scenario, line, plcs, programs, configs, files, change_program, network,
                          change_network)


def _load(path: Path, cwd: Path, files: dict[str, str]) -> YamlDoc:
    doc = load_yaml(path, _display(path, cwd))
    _record(files, path)
    return doc


def _record(files: dict[str, str], path: Path) -> None:
    """Hash a file under its path relative to the scenario's folder (independent of the cwd)."""
    files["__base__"] = files.get("__base__") or str(path.parent.resolve())
    rel = os.path.relpath(path.resolve(), files["__base__"])
    files[rel] = _sha(path)


def _ref(doc: YamlDoc, field_path: tuple, base: Path, rel: str) -> Path:
    """A file referenced from `doc`, relative to it; missing files are located at the reference."""
    p = (base / rel)
    if p.is_dir():
        raise doc.error(field_path, f"{rel} is a directory, not a file (looked in {base})")
    if not p.is_file():
        raise doc.error(field_path, f"file not found: {rel} (looked in {base})")
    return p


def _check_line(doc: YamlDoc, line: Line) -> None:
    flow = line.flow
    first: dict[str, int] = {}
    for i, name in enumerate(flow):
        if name in first:
            raise doc.error(("flow", i), f"'{name}' appears twice in the flow (also flow[{first[name]}]); "
                                         "each station and buffer appears once")
        first[name] = i
    for i, name in enumerate(flow):
        table, other = (line.stations, line.buffers) if i % 2 == 0 else (line.buffers, line.stations)
        what, other_what = ("station", "buffer") if i % 2 == 0 else ("buffer", "station")
        if name not in table:
            if name in other:
                raise doc.error(("flow", i), f"'{name}' is a {other_what}, but flow[{i}] must be a {what}: "
                                             "the flow alternates station, buffer, station, ...")
            close = difflib.get_close_matches(name, list(table), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; {what}s: {', '.join(table)}"
            raise doc.error(("flow", i), f"unknown {what} '{name}'{hint}")
    if len(flow) % 2 == 0:
        raise doc.error(("flow", len(flow) - 1), f"the flow ends with buffer '{flow[-1]}'; it alternates station, "
                                                 "buffer, station, ... and ends with a (sink) station")
    kinds = [line.stations[n].kind for n in flow[::2]]
    if kinds[0] != "source":
        raise doc.error(("flow", 0), f"the flow starts at a source station, not a {kinds[0]}")
    if kinds[-1] != "sink":
        raise doc.error(("flow", len(flow) - 1), f"the flow ends at a sink station, not a {kinds[-1]}")
    for name, st in line.stations.items():
        if name not in flow:
            raise doc.error(("stations", name), "station is not in the flow")
        if st.kind in ("source", "machine", "inspection", "filler") and st.cycle is None:
            raise doc.error(("stations", name, "cycle"),
                            f"{_a(st.kind)} {st.kind} station needs a cycle distribution")
    for name in line.buffers:
        if name not in flow:
            raise doc.error(("buffers", name), "buffer is not in the flow")
    if line.kpi_station not in line.stations:
        close = difflib.get_close_matches(line.kpi_station, list(line.stations), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; stations: {', '.join(line.stations)}"
        raise doc.error(("kpi_station",), f"unknown station '{line.kpi_station}'{hint}")
    if line.stations[line.kpi_station].kind in ("source", "sink"):
        raise doc.error(("kpi_station",), f"'{line.kpi_station}' is a {line.stations[line.kpi_station].kind}; "
                        "the KPI station must be a working station (the line's constraint)")
    fillers = [n for n, s in line.stations.items() if s.kind == "filler"]
    if len(fillers) > 1:
        raise doc.error(("stations", fillers[1]), "only one filler per line is modelled")
    if fillers and line.tank is None:
        raise doc.error(("stations", fillers[0]), "a filler needs a tank (add 'tank:')")
    if fillers and fillers[0] != "filler":
        raise doc.error(("stations", fillers[0]), "the filler station must be named 'filler'")
    if line.tank is not None and line.tank.min_fill > line.tank.bottle_volume:
        raise doc.error(("tank", "min_fill"), "min_fill is more than the bottle volume")


def _compile_plcs(doc: YamlDoc, plcs: Plcs, base: Path, cwd: Path, files: dict[str, str]):
    programs: dict[str, CompiledProgram] = {}
    configs: dict[str, PlcConfig] = {}
    for name, spec in plcs.plcs.items():
        prog_path = _ref(doc, ("plcs", name, "program"), base, spec.program)
        display = _display(prog_path, cwd)
        _record(files, prog_path)
        raw = prog_path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
            raise ScenarioError(display, raw.count(b"\n", 0, exc.start) + 1, f"plcs.{name}.program", bad) from None
        try:
            compiled = compile_file(prog_path)
        except StCompileError as exc:
            e = exc.errors[0]
            more = f" (+{len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
            raise ScenarioError(display, e.line, f"plcs.{name}.program", f"{e.message} [col {e.column}]{more}") from None
        if spec.cycle < 1 or spec.cycle != int(spec.cycle):
            raise doc.error(("plcs", name, "cycle"), "cycle must be a whole number of milliseconds >= 1ms")
        cfg = PlcConfig()
        if spec.config is not None:
            cfg_path = _ref(doc, ("plcs", name, "config"), base, spec.config)
            _record(files, cfg_path)
            try:
                cfg = PlcConfig.load(cfg_path)
            except ConfigError as exc:
                raise ScenarioError(_display(cfg_path, cwd), 0, f"plcs.{name}.config", str(exc)) from None
        programs[name] = compiled
        configs[name] = cfg
    return programs, configs


def _check_bindings(doc: YamlDoc, line: Line, programs: dict[str, CompiledProgram]) -> None:
    signals = catalogue(line)
    driven: dict[str, int] = {}
    for i, b in enumerate(line.bindings):
        at = ("bindings", i)
        if b.signal not in signals:
            close = difflib.get_close_matches(b.signal, list(signals), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise doc.error(at + ("signal",), f"unknown signal '{b.signal}'{hint}")
        if b.plc not in programs:
            close = difflib.get_close_matches(b.plc, list(programs), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; PLCs: {', '.join(programs)}"
            raise doc.error(at + ("plc",), f"unknown PLC '{b.plc}'{hint}")
        prog = programs[b.plc]
        tags = {t.path.split(".", 1)[1].lower(): t for t in prog.tags}
        tag = tags.get(b.tag.lower())
        if tag is None:
            close = difflib.get_close_matches(b.tag, [t.path.split(".", 1)[1] for t in prog.tags], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise doc.error(at + ("tag",), f"PLC {b.plc} has no tag '{b.tag}'{hint}")
        direction, kind = signals[b.signal]
        want = "I" if direction == "sensor" else "Q"
        if tag.location is None or tag.location.area != want:
            where = f"is at {tag.location}" if tag.location else "has no %I/%Q address (declare it AT %...)"
            raise doc.error(at + ("tag",), f"{b.signal} is {_a(direction)} {direction}: "
                            f"bind it to a %{want} variable; {b.tag} {where}")
        if (kind == "bool") != (tag.type.kind == "bool"):
            raise doc.error(at + ("tag",), f"{b.signal} is {'a BOOL' if kind == 'bool' else 'a number'}; "
                            f"{b.tag} is {tag.type.name}")
        if direction == "actuator":
            if b.signal in driven:
                j = driven[b.signal]
                raise doc.error(at + ("signal",), f"{b.signal} is already driven by bindings[{j}] "
                                                  f"(line {doc.line_of(('bindings', j))}); an actuator has one driver")
            driven[b.signal] = i


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _check_change(doc: YamlDoc, scenario: Scenario, base: Path, cwd: Path, files: dict[str, str], line: Line,
                  programs: dict[str, CompiledProgram], network: Any = None) -> CompiledProgram | None:
    """The change under test and the injections must name things that exist."""
    compiled = None
    ch = scenario.change
    if ch is not None:
        if ch.at >= scenario.run.duration:
            raise doc.error(("change", "at"), "the change must come before the end of the run")
        if ch.rules is not None:
            if network is None:
                raise doc.error(("change", "rules"), "a rules change needs the scenario's network model "
                                                     "(add 'network: network.yaml')")
            if ch.rules.conduit not in network.spec.conduits:
                close = difflib.get_close_matches(ch.rules.conduit, list(network.spec.conduits), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; conduits: {', '.join(network.spec.conduits)}"
                raise doc.error(("change", "rules", "conduit"), f"unknown conduit '{ch.rules.conduit}'{hint}")
            target = None
        else:
            target = ch.plc_program or ch.setpoint
    if ch is not None and target is not None:
        field = "plc_program" if ch.plc_program is not None else "setpoint"
        if target.plc not in programs:
            close = difflib.get_close_matches(target.plc, list(programs), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; PLCs: {', '.join(programs)}"
            raise doc.error(("change", field, "plc"), f"unknown PLC '{target.plc}'{hint}")
        if ch.plc_program is not None:
            prog_path = _ref(doc, ("change", "plc_program", "program"), base, ch.plc_program.program)
            _record(files, prog_path)
            try:
                compiled = compile_file(prog_path)
            except StCompileError as exc:
                e = exc.errors[0]
                raise ScenarioError(_display(prog_path, cwd), e.line, "change.plc_program.program",
                                    f"{e.message} [col {e.column}]") from None
        else:
            _check_tag_value(doc, ("change", "setpoint"), programs[target.plc], target.tag, target.value)
    for i, inj in enumerate(scenario.injections):
        at = ("injections", i)
        if inj.at >= scenario.run.duration:
            raise doc.error(at + ("at",), "the injection comes after the end of the run")
        if inj.station is not None and inj.station not in line.stations:
            raise doc.error(at + ("station",), f"unknown station '{inj.station}'")
        if inj.technique is not None:
            if inj.to not in programs:
                raise doc.error(at + ("to",), f"unknown PLC '{inj.to}'")
            for tag, value in (inj.set or {}).items():
                _check_tag_value(doc, at + ("set",), programs[inj.to], tag, value, need_writable=False)
    return compiled


def _check_tag_value(doc: YamlDoc, at: tuple, prog: CompiledProgram, tag: str, value: Any,
                     need_writable: bool = True) -> None:
    tags = {t.path.split(".", 1)[1].lower(): t for t in prog.tags}
    t = tags.get(tag.lower())
    if t is None:
        close = difflib.get_close_matches(tag, [p.path.split(".", 1)[1] for p in prog.tags], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise doc.error(at + ("tag",), f"no tag '{tag}' in {prog.name}{hint}")
    if need_writable and not t.writable:
        raise doc.error(at + ("tag",), f"{tag} is not writable (CONSTANT or an FB output)")
    if t.is_array or not t.type.accepts(value):
        raise doc.error(at + ("value",), f"{value!r} does not fit {tag} ({t.type.name})")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
