"""A message's ordered parts (text, tool calls, tool results) and its plain-text view.

`content` stays the plain text of a message (its text parts joined by a blank line), so protocol
v1 clients keep working. While a reply streams, the stored parts are a prefix of the final list,
kept up to date at each tool event; the text after them lives in `content`. `parts_view` joins
the two the same way on the server and in the browser (static/conversations/js/parts.js), and
`replayed` turns a finished reply's parts back into the turns a model sent and was sent.
Pure functions, no I/O. docs/protocol.md documents the shapes.
"""

from __future__ import annotations

from typing import Any

from .llm.base import ChatMessage, ToolCall, ToolResult

SEPARATOR = "\n\n"  # between the text of two steps of a reply, in `content`

Part = dict[str, Any]


def storable(text: str) -> str:
    """Text without NUL, which PostgreSQL cannot store in text or JSON: a model's or a tool's output
    that carries one (text pulled from a PDF, a binary page) would otherwise fail the reply's save."""
    return text.replace("\x00", "") if "\x00" in text else text


def text_part(text: str) -> Part:
    return {"type": "text", "text": text}


def tool_call_part(call: ToolCall) -> Part:
    return {"type": "tool_call", "id": call.id, "name": storable(call.name), "arguments": storable(call.arguments)}


def cut_off(parts: list[Part]) -> list[Part]:
    """The parts last shown while the model wrote calls, as a reply that ends there keeps them (a stop
    keeps what every tab saw): each call being written stays, its arguments as shown, marked
    `partial` instead of `streaming`; such a call was never run and is never replayed."""
    return [
        {**{key: value for key, value in part.items() if key != "streaming"}, "partial": True}
        if part.get("streaming")
        else part
        for part in parts
    ]


def tool_result_part(result: ToolResult) -> Part:
    return {
        "type": "tool_result",
        "call_id": result.call_id,
        "name": storable(result.name),
        "content": storable(result.content),
        "is_error": result.is_error,
    }


def parts_view(stored: list[Part], content: str) -> list[Part]:
    """The whole list: the stored parts, then the text of `content` they do not cover yet.

    Text after a stored text part continues it; text after a tool part is a new step, which
    `content` separates from the text before it with SEPARATOR. Empty stored parts mean the
    message is plain text (every message written before parts existed reads this way).
    """
    covered = SEPARATOR.join(part["text"] for part in stored if part.get("type") == "text")
    tail = content[len(covered) :] if content.startswith(covered) else ""
    if not tail:
        return list(stored)
    if stored and stored[-1].get("type") == "text":
        return [*stored[:-1], text_part(stored[-1]["text"] + tail)]
    if covered:
        tail = tail.removeprefix(SEPARATOR)
    return [*stored, text_part(tail)] if tail else list(stored)


UNFINISHED_CALL = "This call did not finish: the reply was stopped before the tool answered."


def replayed(parts: list[Part]) -> list[ChatMessage]:
    """A reply's parts (from `parts_view`) as the turns of a later prompt: each step's text with the
    calls it asked for, then one `tool` turn per call, then the text after the last step. A call that
    never got a result (the reply was stopped mid-call) gets an error result: every format wants one.
    A `partial` call (cut off while the model wrote it) is left out: the model never finished asking."""
    steps: list[tuple[list[str], list[ToolCall], dict[str, ToolResult]]] = [([], [], {})]
    for part in parts:
        text, calls, results = steps[-1]
        kind = part.get("type")
        if part.get("partial"):
            continue
        if kind == "text":
            if calls:
                steps.append(([], [], {}))
            steps[-1][0].append(part["text"])
        elif kind == "tool_call":
            if results:
                steps.append(([], [], {}))
            steps[-1][1].append(ToolCall(part["id"], part["name"], part.get("arguments") or "{}"))
        elif kind == "tool_result":
            results[part["call_id"]] = ToolResult(
                part["call_id"], part["name"], part.get("content", ""), bool(part.get("is_error"))
            )
    turns: list[ChatMessage] = []
    for text, calls, results in steps:
        content = SEPARATOR.join(text)
        if not calls:
            if content:
                turns.append({"role": "assistant", "content": content})
            continue
        turns.append({"role": "assistant", "content": content, "tool_calls": calls})
        for call in calls:
            result = results.get(call.id) or ToolResult(call.id, call.name, UNFINISHED_CALL, is_error=True)
            turns.append({"role": "tool", "content": result.content, "tool_result": result})
    return turns
