"""The tools of this deployment: functions named by dotted path in `PARLEY_TOOLS`, loaded once.
Which models are offered them is `offered.py`'s decision."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..llm.base import ToolSpec
from .schema import ToolDefinitionError, describe


@dataclass(frozen=True, slots=True)
class Tool:
    """One callable tool: the function, how a model sees it, and how to call it."""

    function: Callable[..., Any]
    spec: ToolSpec
    is_async: bool
    context_param: str | None = None  # the parameter that receives the ToolContext, if any
    server: str = ""  # the MCP server it comes from; empty for a PARLEY_TOOLS function

    @property
    def name(self) -> str:
        return self.spec.name


def load_tool(path: str) -> Tool:
    """The tool a dotted path names; a clear ImproperlyConfigured if it is missing or cannot be described."""
    try:
        function = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"PARLEY_TOOLS: cannot import {path!r} ({error})") from error
    if not callable(function):
        raise ImproperlyConfigured(f"PARLEY_TOOLS: {path!r} is not a function")
    try:
        spec, context_param = describe(function)
    except ToolDefinitionError as error:
        raise ImproperlyConfigured(f"PARLEY_TOOLS: {path!r} cannot be a tool: {error}") from error
    return Tool(function, spec, inspect.iscoroutinefunction(function), context_param)


@functools.cache
def load_tools(paths: tuple[str, ...]) -> dict[str, Tool]:
    """Every tool by name, built once per distinct list; two tools may not share a name."""
    tools: dict[str, Tool] = {}
    for path in paths:
        tool = load_tool(path)
        if tool.name in tools:
            raise ImproperlyConfigured(f"PARLEY_TOOLS: two tools are named {tool.name!r}")
        tools[tool.name] = tool
    return tools


def configured_tools() -> dict[str, Tool]:
    return load_tools(tuple(settings.PARLEY_TOOLS))
