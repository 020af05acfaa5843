"""Tool calls on the wire, shared by the formats: streamed fragments joined into whole calls,
and the argument text a format that sends objects (Anthropic, Ollama) has to parse."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..base import ToolCall


class ToolCallBuffer:
    """A reply's tool calls as they stream in, by the index the wire gives each one; `on_change`
    (set by the streaming flow when a caller follows the calls) hears of each fragment."""

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, argument fragments...]
        self.on_change: Callable[[ToolCallBuffer], None] | None = None

    def start(self, index: int, call_id: str | None, name: str | None) -> None:
        call = self._calls.setdefault(index, ["", ""])
        call[0] = call_id or call[0]
        call[1] = name or call[1]
        if self.on_change is not None:
            self.on_change(self)

    def add_arguments(self, index: int, text: str) -> None:
        self._calls.setdefault(index, ["", ""]).append(text)
        if self.on_change is not None and text:
            self.on_change(self)

    def named(self) -> int:
        """How many calls have their name so far (cheap: no argument text is joined)."""
        return sum(1 for call in self._calls.values() if call[1])

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(call[0] or f"call_{index}", call[1], "".join(call[2:]) or "{}")
            for index, call in sorted(self._calls.items())
        )

    def so_far(self) -> tuple[ToolCall, ...]:
        """The calls while they stream: their arguments exactly as far as they arrived."""
        return tuple(
            ToolCall(call[0] or f"call_{index}", call[1], "".join(call[2:]))
            for index, call in sorted(self._calls.items())
        )


def arguments_object(arguments: str) -> dict[str, Any]:
    """A call's arguments as the object Anthropic and Ollama expect; malformed text becomes {}
    (its result already told the model what was wrong)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def function_tools(options_tools) -> list[dict[str, Any]]:
    """Tools in the `{"type": "function", ...}` shape Chat Completions and Ollama share."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in options_tools
    ]
