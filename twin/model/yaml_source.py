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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(name, 0, "", "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(name, 0, "", "is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise ScenarioError(name, 0, "", "not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioError(name, 0, "", f"cannot read: {exc.strerror}") from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> YamlDoc:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(name, line, "", f"YAML syntax error: {problem}") from None
    doc = YamlDoc(name, data)
    if node is not None:
        _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, path: tuple, doc: YamlDoc) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for k, v in node.value:
            key = k.value
            line = k.start_mark.line + 1
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
