"""Load network.yaml and its rules files into a Network (topology + compiled policy + declared flows).

A rules file holds one section per conduit (`conduits: {sup-ctrl: {default: deny, rules: [...]}}`), so one
file can carry a whole firewall's rules and a proposed file can replace just the conduits it names. Every
mistake is one located ScenarioError: file, line, field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..model.errors import ScenarioError
from ..model.validate_doc import validate
from ..model.yaml_source import YamlDoc, load_yaml
from .policy import ConduitPolicy, Policy
from .rules import compile_rule
from .schema import FlowSpec, NetworkFile, RulesFile
from .topology import Topology, build, did_you_mean


@dataclass(frozen=True)
class DeclaredFlow:
    """A flow class from a file: required, forbidden, intent, or a scenario's steady-state flow."""

    spec: FlowSpec
    kind: str
    expect: str
    src: int  # host bitmasks
    dst: int
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else ""

    @property
    def label(self) -> str:
        if self.spec.name:
            return self.spec.name
        return f"{_names(self.spec.from_)} -> {_names(self.spec.to)} {_names(self.spec.op)}{_narrowing(self.spec)}"


def _names(xs: list[str]) -> str:
    return xs[0] if len(xs) == 1 else "[" + ", ".join(xs) + "]"


def _narrowing(s: FlowSpec) -> str:
    from . import intervals as iv

    parts = []
    if s.port is not None:
        parts.append(f"port {iv.show(s.port)}")
    if s.fc is not None:
        parts.append(f"FC {iv.show(s.fc)}")
    for t, ivs in (s.tables() or {}).items():
        parts.append(f"{t.replace('_', ' ')} {iv.show(ivs)}")
    if s.node is not None:
        parts.append(f"node {s.node}*")
    if s.security is not None:
        parts.append(f"security {'/'.join(s.security)}")
    return (" " + " ".join(parts)) if parts else ""


@dataclass
class Network:
    file: str
    spec: NetworkFile
    topology: Topology
    policy: Policy
    required: list[DeclaredFlow]
    forbidden: list[DeclaredFlow]
    intent: list[DeclaredFlow] = field(default_factory=list)
    rules_files: dict[str, str] = field(default_factory=dict)  # conduit -> the rules file it uses
    override: str | None = None
    conduit_lines: dict[str, int] = field(default_factory=dict)
    memo: dict = field(default_factory=dict, repr=False)  # derived analyses, computed once

    @property
    def declared(self) -> list[DeclaredFlow]:
        return self.required + self.forbidden

    def findings(self):
        from .lint import lint

        return lint(self)


def load_network(path: str | Path, rules_override: str | Path | None = None,
                 conduits: Iterable[str] | None = None) -> Network:
    """Load network.yaml. `rules_override`: a rules file whose sections replace those conduits' rules
    (only the `conduits` named, when given, as a scenario's `change: rules: {conduit, file}` does)."""
    display = str(path)
    doc = load_yaml(Path(path), display)
    spec = validate(doc, NetworkFile)
    topo = build(spec, doc)
    base_dir = Path(display).parent
    files: dict[str, tuple[YamlDoc, RulesFile]] = {}
    sections: dict[str, tuple[str, YamlDoc, Any]] = {}
    users: dict[str, list[str]] = {}
    for cname, c in spec.conduits.items():
        rdisplay = str(base_dir / c.rules)
        if rdisplay not in files:
            rdoc = load_yaml(Path(rdisplay), rdisplay)
            files[rdisplay] = (rdoc, validate(rdoc, RulesFile))
        users.setdefault(rdisplay, []).append(cname)
    # a section naming no conduit first: it is usually the misspelling of the one that looks missing
    for rdisplay, (rdoc, rfile) in files.items():
        for sname in rfile.conduits:
            if sname not in spec.conduits:
                raise _stray_section(rdoc, sname, spec, display)
    for cname, c in spec.conduits.items():
        rdisplay = str(base_dir / c.rules)
        rdoc, rfile = files[rdisplay]
        if cname not in rfile.conduits:
            have = ", ".join(rfile.conduits) or "none"
            raise doc.error(("conduits", cname, "rules"), f"{rdisplay} has no section for conduit {cname} "
                                                          f"(it has: {have})")
        sections[cname] = (rdisplay, rdoc, rfile.conduits[cname])
    for rdisplay, (rdoc, rfile) in files.items():
        for sname in rfile.conduits:
            if sname not in users[rdisplay]:  # a section that would be silently ignored
                raise _stray_section(rdoc, sname, spec, display)
    intent: list[DeclaredFlow] = []
    override = None
    if rules_override is not None:
        override = str(rules_override)
        odoc = load_yaml(Path(rules_override), override)
        ofile = validate(odoc, RulesFile)
        wanted = list(conduits) if conduits is not None else list(ofile.conduits)
        for cname in ofile.conduits:
            if cname not in spec.conduits:
                raise _stray_section(odoc, cname, spec, display)
        for cname in wanted:
            if cname not in ofile.conduits:
                raise ScenarioError(override, 1, "conduits", f"no section for conduit {cname}")
            sections[cname] = (override, odoc, ofile.conduits[cname])
        intent = declare(topo, ofile.intent, "intent", odoc, ("intent",))
    compiled: dict[str, ConduitPolicy] = {}
    for cname, (rdisplay, rdoc, section) in sections.items():
        base = ("conduits", cname)
        rules = tuple(compile_rule(r, i, cname, rdisplay, rdoc, base + ("rules", i), topo)
                      for i, r in enumerate(section.rules))
        compiled[cname] = ConduitPolicy(topo.conduits[cname], section.default == "allow",
                                        f"{rdisplay}:{rdoc.line_of(base + ('default',))}", rules)
    compiled = {c: compiled[c] for c in spec.conduits}  # declaration order
    required = declare(topo, spec.required_flows, "required", doc, ("required_flows",))
    forbidden = declare(topo, spec.forbidden_flows, "forbidden", doc, ("forbidden_flows",))
    return Network(display, spec, topo, Policy(topo, compiled), required, forbidden, intent,
                   {c: s[0] for c, s in sections.items()}, override,
                   {c: doc.line_of(("conduits", c)) for c in spec.conduits})


def _stray_section(rdoc: YamlDoc, sname: str, spec: NetworkFile, network_file: str) -> ScenarioError:
    if sname in spec.conduits:
        return rdoc.error(("conduits", sname), f"conduit {sname} takes its rules from "
                                               f"{spec.conduits[sname].rules} (see {network_file})")
    return rdoc.error(("conduits", sname), f"no conduit {sname!r} in {network_file}"
                                           f"{did_you_mean(sname, spec.conduits)}")


_EXPECT = {"required": "allowed", "forbidden": "denied"}


def declare(topo: Topology, specs: Iterable[FlowSpec | Mapping], kind: str, doc: YamlDoc | None = None,
            path: tuple = ()) -> list[DeclaredFlow]:
    """Resolve flow specs (or plain mappings, e.g. a scenario's steady_state.flows) against a topology.
    Errors name `doc`'s file and line when given."""
    out = []
    for i, item in enumerate(specs):
        here = path + (i,)
        spec = item if isinstance(item, FlowSpec) else _validate_flow(item, doc, here)

        def err(field_: str, n: int, msg: str, names: list[str], here=here) -> ScenarioError:
            p = here + ((field_, n) if len(names) > 1 else (field_,))
            return doc.error(p, msg) if doc is not None else ScenarioError("<flows>", 0, _dotted(p), msg)

        src = topo.resolve(spec.from_, lambda n, msg: err("from", n, msg, spec.from_))
        dst = topo.resolve(spec.to, lambda n, msg: err("to", n, msg, spec.to))
        expect = spec.expect or _EXPECT.get(kind)
        if expect is None:
            raise err("expect", 0, f"an {kind} flow needs expect: allowed or expect: denied", [""])
        if kind in _EXPECT and expect != _EXPECT[kind]:
            other = "forbidden_flows" if kind == "required" else "required_flows"
            raise err("expect", 0, f"a {kind} flow expects {_EXPECT[kind]}; move it to {other}", [""])
        out.append(DeclaredFlow(spec, kind, expect, src, dst, doc.file if doc else "",
                                doc.line_of(here) if doc else 0))
    return out


def _validate_flow(item: Any, doc: YamlDoc | None, here: tuple) -> FlowSpec:
    from pydantic import ValidationError

    try:
        return FlowSpec.model_validate(item)
    except ValidationError as exc:
        e = exc.errors()[0]
        msg = e["msg"].removeprefix("Value error, ")
        loc = here + tuple(e["loc"])
        if doc is not None:
            return _raise(doc.error(loc, msg))
        return _raise(ScenarioError("<flows>", 0, _dotted(loc), msg))


def _raise(exc: Exception):
    raise exc


def _dotted(p: tuple) -> str:
    from ..model.yaml_source import dotted

    return dotted(p)
