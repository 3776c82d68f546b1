"""Load YAML keeping the line of every key, so errors can point at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ScenarioError

Path_ = tuple  # a path into the document: ("stations", "filler", "cycle")


@dataclass
class YamlDoc:
    file: str
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, path: tuple) -> int:
        """The line of the deepest known element on `path` (1 for the document)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    def error(self, path: tuple, message: str) -> ScenarioError:
        return ScenarioError(self.file, self.line_of(path), dotted(path), message)


def dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def load_yaml(path: Path, display: str | None = None) -> YamlDoc:
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(name, 0, "", "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(name, 0, "", f"is a directory, not a YAML file{_yaml_files_in(path, name)}") from None
    except OSError as exc:
        raise ScenarioError(name, 0, "", f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(name, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") \
            from None
    return parse_yaml(text, name)


def _yaml_files_in(path: Path, name: str) -> str:
    try:
        found = sorted(p.name for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    except OSError:
        return ""
    if not found:
        return ""
    shown = ", ".join(f"{name.rstrip('/')}/{f}" for f in found[:5])
    return f"; give a scenario file in it, e.g. {shown}"


def parse_yaml(text: str, name: str) -> YamlDoc:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _syntax_error(text, name, exc) from None
    doc = YamlDoc(name, data)
    if node is not None:
        _walk(node, (), doc)
    return doc


_UNCLOSED = {"while parsing a flow sequence": "flow sequence '['", "while parsing a flow mapping": "flow mapping '{'",
             "while scanning a quoted scalar": "quoted string"}


def _syntax_error(text: str, name: str, exc: yaml.YAMLError) -> ScenarioError:
    """One located error for a YAML syntax error; the field is where the parser was when it failed."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    stop = (problem_mark.line, problem_mark.column) if problem_mark else None
    path, opened = _path_at_failure(text, stop)
    line = problem_mark.line + 1 if problem_mark else (context_mark.line + 1 if context_mark else 1)
    if "'\\t'" in problem:
        problem = "a tab character; YAML indents with spaces only"
    elif problem == "but found another document":
        problem = "a second document ('---'); the file holds one document"
        path = ()
    elif problem.startswith("expected <block end>"):
        problem = f"{problem}: the indentation of this line does not match the lines before it"
    elif problem == "mapping values are not allowed here":
        problem += " (is this line indented too far, or does a value with ': ' need quotes?)"
    if context in _UNCLOSED and context_mark is not None:
        at = (context_mark.line, context_mark.column)
        path = opened.get(at, path)
        where = f" (line {line})" if problem_mark and problem_mark.line != context_mark.line else ""
        problem = f"the {_UNCLOSED[context]} opened here is not closed: {problem}{where}"
        line = context_mark.line + 1
    return ScenarioError(name, line, dotted(path), f"YAML syntax error: {problem}")


def _path_at_failure(text: str, stop: tuple[int, int] | None) -> tuple[tuple, dict[tuple[int, int], tuple]]:
    """Replay the parser's events up to the error (or the `stop` mark): the path being parsed there, and
    where each open collection began."""
    stack: list[list] = []  # [path, is_mapping, pending key or next index, expecting a key]
    opened: dict[tuple[int, int], tuple] = {}

    def slot() -> tuple:
        if not stack:
            return ()
        path, is_map, k, expect_key = stack[-1]
        if is_map:
            return path if expect_key or k is None else path + (k,)
        return path + (k,)

    def consumed() -> None:
        if stack:
            top = stack[-1]
            if top[1]:
                top[3] = True
            else:
                top[2] += 1

    try:
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if stop is not None and (ev.start_mark.line, ev.start_mark.column) >= stop:
                break
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if stack and stack[-1][1] and stack[-1][3]:  # a complex key: give up on precision
                    stack[-1][3] = False
                p = slot()
                opened[(ev.start_mark.line, ev.start_mark.column)] = p
                stack.append([p, isinstance(ev, yaml.MappingStartEvent), None if isinstance(
                    ev, yaml.MappingStartEvent) else 0, True])
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                consumed()
            elif isinstance(ev, (yaml.ScalarEvent, yaml.AliasEvent)):
                if stack and stack[-1][1] and stack[-1][3]:
                    stack[-1][2] = getattr(ev, "value", None)
                    stack[-1][3] = False
                else:
                    consumed()
    except yaml.YAMLError:
        pass
    if stack and not stack[-1][1]:
        return stack[-1][0], opened  # inside a sequence: name the sequence, not an item that may not exist
    return slot(), opened


_NOT_A_NAME = {"bool": "a boolean", "int": "a number", "float": "a number", "null": "null", "timestamp": "a date"}


def _walk(node: yaml.Node, path: tuple, doc: YamlDoc) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for k, v in node.value:
            key = k.value
            line = k.start_mark.line + 1
            if not isinstance(k, yaml.ScalarNode):
                raise ScenarioError(doc.file, line, dotted(path), "a key must be a plain name, not a list or mapping")
            if k.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor' merges keys defined elsewhere
                continue
            if k.tag != "tag:yaml.org,2002:str":
                # YAML 1.1 reads yes/no/on/off as booleans, 1 as a number, ~ as null: every key here is a name
                what = _NOT_A_NAME.get(k.tag.rsplit(":", 1)[-1], k.tag)
                raise ScenarioError(doc.file, line, dotted(path + (key,)),
                                    f"key {key!r} is read as {what}, not a name; quote it: '{key}'")
            if key in seen:
                raise ScenarioError(doc.file, line, dotted(path + (key,)),
                                    f"duplicate key (first at line {seen[key]})")
            seen[key] = line
            doc.lines[path + (key,)] = line
            _walk(v, path + (key,), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), doc)
