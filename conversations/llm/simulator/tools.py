"""The simulator as a tool-using model: `!sim tool=name:{json}` asks for calls, then it answers with
what the tools returned, so the whole tool loop runs offline and in tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .directives import Directives


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    id: str
    name: str
    arguments: str


def tool_turn(body: dict[str, Any], d: Directives) -> tuple[tuple[SimulatedCall, ...], str | None]:
    """The calls to ask for now, or the answer text once the tools have run; ((), None) when the
    request offers no tools or asks for none, so the reply is the usual one."""
    if not d.tools or not body.get("tools"):
        return (), None
    turns = _since_last_user(body.get("messages") or [])
    rounds = sum(1 for m in turns if m.get("role") == "assistant" and m.get("tool_calls"))
    if rounds < max(d.tool_steps, 1):
        return tuple(_call(spec, rounds, i, d.tool_malformed) for i, spec in enumerate(d.tools)), None
    results = [m for m in turns if m.get("role") == "tool"]
    return (), " ".join(f"Tool result: {m.get('content', '')}." for m in results) or "No tool results."


def recalled(body: dict[str, Any]) -> str:
    """The earlier turns' tool calls and their results as the request carries them (Chat Completions
    shape), so a test can see that a later question reaches the model with them."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    results = {m.get("tool_call_id"): m.get("content", "") for m in messages if m.get("role") == "tool"}
    calls = [
        call
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
        if isinstance(call, dict)
    ]
    if not calls:
        return "No earlier tool calls."
    said = [
        f"{(c.get('function') or {}).get('name')}({(c.get('function') or {}).get('arguments')}) "
        f"returned {results.get(c.get('id'), 'nothing')}."
        for c in calls
    ]
    return "Earlier tool calls: " + " ".join(said)


def _call(spec: str, round_: int, index: int, malformed: int) -> SimulatedCall:
    name, _, arguments = spec.partition(":")
    arguments = arguments or "{}"
    if malformed:
        arguments = arguments[: max(len(arguments) // 2, 1)]
    return SimulatedCall(f"call_sim_{round_}_{index}", name, arguments)


def _since_last_user(messages: list[Any]) -> list[dict[str, Any]]:
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if isinstance(message, dict) and message.get("role") == "user":
            return [m for m in messages[position + 1 :] if isinstance(m, dict)]
    return []
