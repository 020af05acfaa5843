"""The tools of this deployment: functions named by dotted path in `PARLEY_TOOLS`, loaded once.
An entry ending in `:process` runs its sync function in a worker process (processes.py) instead of
a thread. Which models are offered them is `offered.py`'s decision."""

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
    path: str = ""  # the function's dotted path, for a PARLEY_TOOLS function
    in_process: bool = False  # a sync function listed with `:process`, run in a worker process

    @property
    def name(self) -> str:
        return self.spec.name


def load_tool(entry: str) -> Tool:
    """The tool a PARLEY_TOOLS entry names (a dotted path, `:process` after it for a worker process);
    a clear ImproperlyConfigured if it is missing or cannot be described."""
    path, _, runner = entry.partition(":")
    if runner not in ("", "process"):
        raise ImproperlyConfigured(f"PARLEY_TOOLS: {entry!r}: the only suffix is ':process', not {runner!r}")
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
    is_async = inspect.iscoroutinefunction(function)
    if runner and is_async:
        raise ImproperlyConfigured(f"PARLEY_TOOLS: {path!r} is async; only sync functions run in a process")
    return Tool(function, spec, is_async, context_param, path=path, in_process=bool(runner))


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
