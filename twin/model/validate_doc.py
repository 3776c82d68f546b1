"""Validate a YAML document against a pydantic model; turn the first error into a located one."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import ScenarioError
from .yaml_source import YamlDoc, dotted

M = typing.TypeVar("M", bound=BaseModel)


def validate(doc: YamlDoc, model: type[M]) -> M:
    if doc.data is None:
        needs = ", ".join(n for n, f in model.model_fields.items() if f.is_required())
        raise ScenarioError(doc.file, 1, "", f"the file is empty; a {model.__name__} file needs {needs}")
    if not isinstance(doc.data, dict):
        raise ScenarioError(doc.file, 1, "", f"expected a mapping (key: value) at the top level, "
                                             f"got {_kind(doc.data)}")
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown key is usually a typo of the field reported missing: name the typo
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        raise _located(doc, model, errors[0]) from None


def _located(doc: YamlDoc, model: type[BaseModel], err: dict) -> ScenarioError:
    loc = _data_loc(doc.data, err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1], doc.data)
        key = loc[-1]
        allowed = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else (f"; valid keys: {', '.join(allowed)}" if allowed else "")
        return ScenarioError(doc.file, doc.line_of(loc), dotted(loc), f"unknown key{hint}")
    if kind == "missing":
        return ScenarioError(doc.file, doc.line_of(loc[:-1]), dotted(loc), "required field is missing")
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        tags = ctx.get("expected_tags", "")
        tag = str(ctx.get("tag", ""))
        close = difflib.get_close_matches(tag, [t.strip(" '") for t in tags.split(",")], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of {tags}"
        loc = loc + ("dist",)
        return ScenarioError(doc.file, doc.line_of(loc), dotted(loc), f"unknown distribution '{tag}'; {hint}")
    if kind == "union_tag_not_found":
        return ScenarioError(doc.file, doc.line_of(loc), dotted(loc),
                             "a distribution needs 'dist' (fixed, normal, lognormal, exponential, uniform, triangular)")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        example = " like {dist: fixed, value: 1s}" if _is_distribution(model, loc, doc.data) else ""
        return ScenarioError(doc.file, doc.line_of(loc), dotted(loc),
                             f"expected a mapping (key: value){example}, got {_kind(err.get('input'))}")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    msg = msg[0].lower() + msg[1:] if msg else msg
    if kind == "literal_error" and isinstance(err.get("input"), str):
        expected = [e.strip(" '") for e in err.get("ctx", {}).get("expected", "").replace(" or ", ",").split(",")]
        close = difflib.get_close_matches(err["input"], [e for e in expected if e], n=1)
        if close and len(expected) > 1:
            msg += f"; did you mean '{close[0]}'?"
    return ScenarioError(doc.file, doc.line_of(loc), dotted(loc), msg)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _data_loc(data: Any, loc: tuple) -> tuple:
    """Keep the parts of pydantic's `loc` that exist in the document.

    pydantic puts union member tags ('normal', 'function-before[...]', 'float') into the loc; they are dropped
    by walking the data, not by name, so a station called 'normal' or 'intake' keeps its place in the path.
    """
    out: list = []
    current = data
    for p in loc:
        if isinstance(current, dict) and p in current:
            out.append(p)
            current = current[p]
        elif isinstance(current, list) and isinstance(p, int) and 0 <= p < len(current):
            out.append(p)
            current = current[p]
        elif isinstance(current, dict) and not isinstance(p, int) and p == loc[-1] and not _is_member_tag(p):
            out.append(p)  # a key the document lacks: a missing field
            break
    return tuple(out)


def _is_member_tag(p: Any) -> bool:
    return isinstance(p, str) and ("[" in p or p in ("fixed", "normal", "lognormal", "exponential", "uniform",
                                                     "triangular", "float", "int", "str", "bool"))


def _data_at(data: Any, path: tuple) -> Any:
    for p in path:
        try:
            data = data[p]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _model_at(model: type[BaseModel], path: tuple, data: Any = None) -> type[BaseModel] | None:
    """The model class that holds the element at `path` (None when not a model)."""
    current: Any = model
    for i, p in enumerate(path):
        current = _resolve(current, _data_at(data, path[:i]))
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(str(p))
            if f is None:
                return None
            current = f.annotation
            continue
        current = _inner(current, p)
        if current is None:
            return None
    current = _resolve(current, _data_at(data, path))
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _is_distribution(model: type[BaseModel], path: tuple, data: Any) -> bool:
    parent = _model_at(model, path[:-1], data)
    if parent is None or not path or str(path[-1]) not in parent.model_fields:
        return False
    members = _members(parent.model_fields[str(path[-1])].annotation)
    return any(isinstance(m, type) and issubclass(m, BaseModel) and "dist" in m.model_fields for m in members)


def _members(t: Any) -> list:
    """The alternatives of a (possibly Annotated, possibly optional) union, flattened."""
    while typing.get_origin(t) is typing.Annotated:
        t = typing.get_args(t)[0]
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        out = []
        for a in typing.get_args(t):
            out.extend(_members(a))
        return out
    return [t]


def _resolve(t: Any, data: Any) -> Any:
    """Unwrap Annotated and Optional; pick the union member that `data` selects by its literal fields."""
    members = [m for m in _members(t) if m is not type(None)]
    if len(members) == 1:
        return members[0]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(data, dict):
        for m in models:
            lits = {n: typing.get_args(f.annotation) for n, f in m.model_fields.items()
                    if typing.get_origin(f.annotation) is typing.Literal}
            if lits and all(data.get(n) in vals for n, vals in lits.items()):
                return m
    return t


def _inner(t: Any, p: Any) -> Any:
    t = _resolve(t, None)
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is list and isinstance(p, int):
        return args[0]
    if origin is dict:
        return args[1]
    if isinstance(t, type) and issubclass(t, BaseModel):
        f = t.model_fields.get(str(p))
        return f.annotation if f else None
    return None
