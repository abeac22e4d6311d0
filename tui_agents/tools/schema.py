"""JSON schemas for tools: built from a signature with pydantic, and checked for class-based tools."""

from __future__ import annotations

import inspect
import logging
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model

from ..errors import ToolDefinitionError

__all__ = ["ArgumentsError", "SignatureSchema", "check_arguments", "clean_schema", "context_params"]

log = logging.getLogger(__name__)


class ArgumentsError(Exception):
    """The model's arguments do not fit the tool's parameters; the message is for the model."""


def _is_context_annotation(annotation: Any, context_type: type) -> bool:
    """True for ``ToolContext``, ``ToolContext | None`` and ``Annotated[ToolContext, ...]``."""
    if annotation is context_type:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_context_annotation(typing.get_args(annotation)[0], context_type)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(members) == 1 and members[0] is context_type
    return False


def _name_of(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def _type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Resolved hints (string annotations too); one that cannot be resolved is left out, so it accepts any value."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # a forward reference to a name that is not importable: resolve one by one
        pass
    target = inspect.unwrap(getattr(func, "__func__", func))
    namespace = getattr(target, "__globals__", {})
    hints: dict[str, Any] = {}
    for name, annotation in getattr(target, "__annotations__", {}).items():
        try:
            holder = types.SimpleNamespace(__annotations__={name: annotation})
            hints.update(typing.get_type_hints(holder, globalns=namespace, include_extras=True))
        except Exception as exc:
            log.warning("could not resolve the type of parameter %r of %s (%s); it accepts any value",
                        name, getattr(func, "__qualname__", func), exc)
    return hints


def context_params(
    func: Callable[..., Any], context_type: type, hints: Mapping[str, Any] | None = None
) -> tuple[list[str], bool]:
    """The parameters of ``func`` that take a context, and whether one of them needs it."""
    hints = _type_hints(func) if hints is None else hints
    names: list[str] = []
    required = False
    for param in inspect.signature(func).parameters.values():
        annotation = hints.get(param.name, param.annotation)
        if _is_context_annotation(annotation, context_type):
            names.append(param.name)
            required = required or (annotation is context_type and param.default is param.empty)
    return names, required


@dataclass(frozen=True)
class _Param:
    name: str
    field: str
    positional_only: bool


class SignatureSchema:
    """The arguments model of a callable: its JSON schema, validation and the call's args."""

    def __init__(self, func: Callable[..., Any], *, model_name: str, context_type: type) -> None:
        signature = inspect.signature(func)
        hints = _type_hints(func)
        self.context_params, self.context_required = context_params(func, context_type, hints)
        fields: dict[str, Any] = {}
        self._params: list[_Param] = []
        for index, param in enumerate(signature.parameters.values()):
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ToolDefinitionError(
                    f"The tool function {_name_of(func)} takes *{param.name}; tools cannot take *args or **kwargs."
                )
            if param.name in self.context_params:
                continue
            annotation = hints.get(param.name, param.annotation)
            if annotation is inspect.Parameter.empty or isinstance(annotation, str):
                annotation = Any
            # Internal field names plus an alias keep names like ``schema``, ``json`` or ``_x``
            # from clashing with BaseModel attributes.
            field = f"p{index}"
            default = ... if param.default is param.empty else param.default
            fields[field] = (annotation, Field(default, alias=param.name))
            self._params.append(_Param(param.name, field, param.kind is param.POSITIONAL_ONLY))
        config = ConfigDict(extra="forbid")
        try:
            self.model: type[BaseModel] = create_model(model_name, __config__=config, **fields)
            self.parameters: dict[str, Any] = clean_schema(self.model.model_json_schema())
        except PydanticUserError as exc:
            raise ToolDefinitionError(
                f"The tool function {_name_of(func)} has a parameter type that JSON cannot describe; use str, "
                "int, float, bool, lists, dicts, Literal, Enum or a pydantic model."
            ) from exc

    def bind(self, arguments: Mapping[str, Any], context: Any) -> tuple[list[Any], dict[str, Any]]:
        """Validate ``arguments`` and return the positional and keyword arguments of the call."""
        try:
            values = self.model.model_validate(dict(arguments))
        except ValidationError as exc:
            raise ArgumentsError(_describe_validation_error(exc)) from None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._params:
            value = getattr(values, param.field)
            if param.positional_only:
                args.append(value)
            else:
                kwargs[param.name] = value
        for name in self.context_params:
            kwargs[name] = context
        return args, kwargs


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        message = "unknown argument" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


# Keys whose values are schemas (or lists/maps of schemas); every other key holds data
# (``default``, ``enum``, ``const``...) that must be kept as it is.
_SCHEMA_KEYS = {"items", "additionalProperties", "not", "contains", "propertyNames"}
_SCHEMA_LIST_KEYS = {"anyOf", "allOf", "oneOf", "prefixItems"}
_SCHEMA_MAP_KEYS = {"properties", "$defs", "definitions", "patternProperties"}


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles and inline ``$defs`` references when they are not recursive."""
    stripped = _strip_titles(schema)
    defs = stripped.pop("$defs", None)
    if not defs:
        return stripped
    try:
        return _inline(stripped, defs, frozenset())
    except RecursionError:
        stripped["$defs"] = defs
        return stripped


def _strip_titles(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in _SCHEMA_KEYS:
            out[key] = _strip_titles(value)
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out[key] = [_strip_titles(v) for v in value]
        elif key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {k: _strip_titles(v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def _inline(node: Any, defs: dict[str, Any], seen: frozenset[str]) -> Any:
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen:
            raise RecursionError(name)  # a recursive model: keep $defs instead
        target = _inline(defs[name], defs, seen | {name})
        siblings = {k: _inline(v, defs, seen) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_KEYS:
            out[key] = _inline(value, defs, seen)
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out[key] = [_inline(v, defs, seen) for v in value]
        elif key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {k: _inline(v, defs, seen) for k, v in value.items()}
        else:
            out[key] = value
    return out


# --- A small JSON-schema check for class-based tools with a hand-written schema ---

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def check_arguments(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Check required keys, basic types, enums, items and unknown keys; raise ``ArgumentsError``."""
    problems: list[str] = []
    _check(dict(arguments), schema, "", problems)
    if problems:
        raise ArgumentsError("; ".join(problems))


def _check(value: Any, schema: Mapping[str, Any], where: str, problems: list[str]) -> None:
    label = where or "arguments"
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        known = [n for n in names if n in _JSON_TYPES]
        if known and not any(_JSON_TYPES[n](value) for n in known):
            problems.append(f"{label}: expected {' or '.join(known)}, got {_json_type_name(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        problems.append(f"{label}: must be one of {allowed}")
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key in schema.get("required") or []:
            if key not in value:
                problems.append(f"{_join(where, key)}: Field required")
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], _join(where, key), problems)
            elif schema.get("additionalProperties") is False:
                problems.append(f"{_join(where, key)}: unknown argument")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _check(item, schema["items"], _join(where, str(index)), problems)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _json_type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _JSON_TYPES[name](value):
            return name
    return type(value).__name__
