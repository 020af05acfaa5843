"""A function's JSON schema from its type hints and docstring, so a tool is only a function.

The first paragraph of the docstring describes the tool; each argument's description comes from an
`Args:` section (Google style) or `:param name:` lines. Parameters annotated `ToolContext` are filled
in by Parley and left out of the schema.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union

from ..llm.base import ToolSpec

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARG_LINE = re.compile(r"^\s*(?::param\s+)?(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


class ToolDefinitionError(TypeError):
    """A function that cannot be offered as a tool; the message names the function and the reason."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who a call runs for: declare a parameter of this type to receive it (it is not in the schema)."""

    user_id: Any
    conversation_id: Any


def describe(function: Callable[..., Any]) -> tuple[ToolSpec, str | None]:
    """The tool's spec, and the name of its `ToolContext` parameter if it has one."""
    name = function.__name__
    try:
        hints = typing.get_type_hints(function)
    except Exception as error:
        raise ToolDefinitionError(f"{name}: its type hints cannot be read ({error})") from error
    summary, arg_docs = _parse_docstring(inspect.getdoc(function) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_param = None
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"{name}: *args and **kwargs cannot be described to a model")
        hint = hints.get(param.name)
        if hint is ToolContext:
            context_param = param.name
            continue
        if hint is None:
            raise ToolDefinitionError(f"{name}: parameter {param.name!r} needs a type hint")
        prop = json_type(hint, f"{name}({param.name})")
        if param.name in arg_docs:
            prop["description"] = arg_docs[param.name]
        properties[param.name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    if not summary:
        raise ToolDefinitionError(f"{name}: a tool needs a docstring saying what it does")
    parameters = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return ToolSpec(name, summary, parameters), context_param


def json_type(hint: Any, where: str) -> dict[str, Any]:
    """The JSON schema of one type hint; unsupported types are refused rather than guessed."""
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if hint is Any:
        return {}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return {"enum": list(args)}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return json_type(options[0], where)  # Optional[X]: the default stands for "not given"
        return {"anyOf": [json_type(a, where) for a in options]}
    if hint in (list, tuple, set) or origin in (list, tuple, set):
        return {"type": "array", "items": json_type(args[0], where) if args else {}}
    if hint is dict or origin is dict:
        return {"type": "object"}
    raise ToolDefinitionError(f"{where}: type {hint!r} has no JSON schema; use str, int, float, bool, list or dict")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and argument descriptions from `Args:` or `:param` lines."""
    paragraphs = doc.split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs and not paragraphs[0].startswith(":") else ""
    args: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if stripped.endswith(":") and stripped[:-1] in ("Returns", "Raises", "Yields", "Example", "Examples"):
            in_args = False
            continue
        match = _ARG_LINE.match(line)
        if match and (in_args or stripped.startswith(":param")):
            args[match.group(1)] = match.group(2).strip()
    return summary, args
