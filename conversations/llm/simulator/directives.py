"""Per-request `!sim key=value ...` directives: the simulator's public contract for tests and benchmarks.

Any line of the last user message starting with `!sim` sets options for that one request. The
text after the last directive line is what `echo=1` replies with, verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

_LINE = re.compile(r"^!sim(?:[ \t]+(.*))?$", re.MULTILINE)

_CASTS: dict[str, type] = {
    "tokens": int,
    "tps": float,
    "ttft": float,
    "seed": int,
    "fail": int,
    "fail_times": int,
    "reset_after": int,
    "stall_after": int,
    "drip": float,
    "error_after": int,
    "echo": int,
    "stamp": int,
    "tool_steps": int,
    "tool_malformed": int,
    "recall": int,
    "tool_stall": int,
    "nul": int,
}


@dataclass(frozen=True, slots=True)
class Directives:
    tokens: int | None = None
    tps: float | None = None
    ttft: float | None = None
    seed: int | None = None
    fail: int | None = None
    fail_times: int | None = None
    reset_after: int | None = None
    stall_after: int | None = None
    drip: float | None = None
    error_after: int | None = None
    echo: int = 0
    stamp: int = 0
    tools: tuple[str, ...] = ()  # `tool=name:{json}`, repeatable: calls to ask for when tools are offered
    tool_steps: int = 1  # rounds of tool calls before the final answer
    tool_malformed: int = 0  # send the calls' arguments cut short (invalid JSON)
    tool_stall: int = 0  # send the calls' names and half their arguments, then nothing more
    recall: int = 0  # answer with the tool calls and results of earlier turns, as the request replays them
    nul: int = 0  # end every token with a NUL character, as some models and tools emit (PostgreSQL stores none)
    line: str = ""  # the directive line(s) as sent: the key of the `fail_times` counter
    echo_text: str = ""  # the message text after the last directive line


def parse_directives(messages: Sequence[Any]) -> Directives:
    """Read the directives of the last user message; unknown keys and bad values are ignored."""
    text = _last_user_text(messages)
    matches = list(_LINE.finditer(text))
    if not matches:
        return Directives()
    values: dict[str, Any] = {}
    tools: list[str] = []
    for match in matches:
        for pair in (match.group(1) or "").split():
            key, _, raw = pair.partition("=")
            if key == "tool" and raw:
                tools.append(raw)
                continue
            cast = _CASTS.get(key)
            if cast is None:
                continue
            try:
                values[key] = cast(raw)
            except ValueError:
                continue
    echo_text = text[matches[-1].end() :]
    echo_text = echo_text[1:] if echo_text.startswith("\n") else echo_text
    known = {f.name for f in fields(Directives)}
    line = "\n".join(m.group(0) for m in matches)
    values = {k: v for k, v in values.items() if k in known}
    return Directives(**values, tools=tuple(tools), line=line, echo_text=echo_text)


def _last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # OpenAI content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return ""
    return ""
