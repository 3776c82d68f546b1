"""Validate a YAML document against a pydantic model; turn the first error into a located one."""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import ScenarioError
from .yaml_source import YamlDoc, dotted

M = typing.TypeVar("M", bound=BaseModel)


def validate(doc: YamlDoc, model: type[M]) -> M:
    if not isinstance(doc.data, dict):
        raise ScenarioError(doc.file, 1, "", f"expected a mapping at the top level, got {type(doc.data).__name__}")
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown key is usually a typo of the field reported missing: name the typo
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        raise _located(doc, model, errors[0]) from None


def _located(doc: YamlDoc, model: type[BaseModel], err: dict) -> ScenarioError:
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        key = loc[-1]
        allowed = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else (f"; valid keys: {', '.join(allowed)}" if allowed else "")
        return ScenarioError(doc.file, doc.line_of(loc), dotted(loc), f"unknown key{hint}")
    if kind == "missing":
        return ScenarioError(doc.file, doc.line_of(loc[:-1]), dotted(loc), "required field is missing")
    if kind == "union_tag_invalid":
        tags = err.get("ctx", {}).get("expected_tags", "")
        return ScenarioError(doc.file, doc.line_of(loc), dotted(loc), f"unknown distribution; use one of {tags}")
    if kind == "union_tag_not_found":
        return ScenarioError(doc.file, doc.line_of(loc), dotted(loc),
                             "a distribution needs 'dist' (fixed, normal, lognormal, exponential, uniform, triangular)")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return ScenarioError(doc.file, doc.line_of(loc), dotted(loc), msg[0].lower() + msg[1:] if msg else msg)


def _is_union_tag(p: Any) -> bool:
    # pydantic puts the discriminator value or a type name into the loc for unions
    return isinstance(p, str) and (p in ("fixed", "normal", "lognormal", "exponential", "uniform", "triangular")
                                   or p.startswith(("function-", "float", "int")))


def _model_at(model: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """The model class that holds the element at `path` (None when not a model)."""
    current: Any = model
    for p in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(str(p))
            if f is None:
                return None
            current = f.annotation
            continue
        current = _inner(current, p)
        if current is None:
            return None
    current = _unwrap_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap_optional(t: Any) -> Any:
    args = typing.get_args(t)
    if typing.get_origin(t) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return non_none[0]
    return t


def _inner(t: Any, p: Any) -> Any:
    t = _unwrap_optional(t)
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
