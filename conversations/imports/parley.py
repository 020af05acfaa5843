"""Parley's own export (conversations/exports.py, docs/export.md) read back, every branch included."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..exports import FORMAT, VERSION
from ..models import Message
from ..parts import Part
from ..replies import INTERRUPTED_ERROR
from .shapes import (
    SYSTEM_PROMPT_MAX,
    ImportedConversation,
    ImportedMessage,
    ImportRejected,
    check_tree,
    flag,
    optional_text,
    text,
    timestamp,
    title,
)

ROLES = {choice.value for choice in Message.Role}
STATUSES = {choice.value for choice in Message.Status}
MODEL_MAX = 200
KEY_MAX = 100
IMPORTED_PARTS = ("text", "tool_call", "tool_result")  # image and file parts name uploads the file does not hold


def is_parley(document: Any) -> bool:
    return isinstance(document, dict) and document.get("format") == FORMAT


def read_conversation(document: dict[str, Any], where: str) -> ImportedConversation:
    if document.get("version") != VERSION:
        raise ImportRejected(f"{where}: version {document.get('version')!r} of {FORMAT} is not one this server reads.")
    where = f"{where} ({str(document.get('title'))[:60]!r})"
    raw_messages = document.get("messages")
    if not isinstance(raw_messages, list):
        raise ImportRejected(f"{where}: messages must be a list.")
    messages = [read_message(item, f"{where}, message {index + 1}") for index, item in enumerate(raw_messages)]
    check_tree(messages, where)
    leaf = document.get("active_leaf_id")
    if leaf is not None and leaf not in {message.key for message in messages}:
        raise ImportRejected(f"{where}: active_leaf_id names no message of the conversation.")
    return ImportedConversation(
        title=title(document.get("title"), where),
        messages=messages,
        active_leaf=leaf,
        system_prompt=optional_text(document.get("system_prompt"), f"{where}: system_prompt", limit=SYSTEM_PROMPT_MAX),
        temperature=temperature(document.get("temperature"), where),
        model_name=optional_text(document.get("model_name"), f"{where}: model_name", limit=MODEL_MAX) or None,
        updated_at=timestamp(document.get("updated_at"), f"{where}: updated_at"),
        pinned=flag(document.get("pinned"), f"{where}: pinned"),
        archived=flag(document.get("archived"), f"{where}: archived"),
    )


def temperature(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise ImportRejected(f"{where}: temperature must be a number from 0 to 2, or null.")
    return float(value)


def read_message(item: Any, where: str) -> ImportedMessage:
    if not isinstance(item, dict):
        raise ImportRejected(f"{where} must be an object.")
    key = text(item.get("id"), f"{where}: id", limit=KEY_MAX)
    parent = item.get("parent_id")
    role, status = item.get("role"), item.get("status", "complete")
    if role not in ROLES:
        raise ImportRejected(f"{where}: role must be one of {', '.join(sorted(ROLES))}.")
    if status not in STATUSES:
        raise ImportRejected(f"{where}: status must be one of {', '.join(sorted(STATUSES))}.")
    message = ImportedMessage(
        key=key,
        parent=None if parent is None else text(parent, f"{where}: parent_id", limit=KEY_MAX),
        role=role,
        content=text(item.get("content"), f"{where}: content"),
        created_at=timestamp(item.get("created_at"), f"{where}: created_at"),
        parts=read_parts(item.get("parts", []), where),
        status=status,
        error=optional_text(item.get("error"), f"{where}: error"),
        model=optional_text(item.get("model"), f"{where}: model", limit=MODEL_MAX),
        seq=count(item.get("seq", 0), f"{where}: seq") or 0,
    )
    if status == Message.Status.STREAMING:  # nothing will finish it here: it ends as a dead process's reply does
        message.status, message.error = Message.Status.INTERRUPTED, message.error or INTERRUPTED_ERROR
    read_usage(message, item.get("usage"), where)
    return message


def read_parts(value: Any, where: str) -> list[Part]:
    """Text and tool parts, checked; attachment parts are dropped (their files are not in the export).
    A list of just the text of `content` is stored as no parts, as Parley stores plain messages."""
    if not isinstance(value, list):
        raise ImportRejected(f"{where}: parts must be a list.")
    parts = []
    for index, part in enumerate(value):
        here = f"{where}, part {index + 1}"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise ImportRejected(f"{here} must be an object with a type.")
        if part["type"] in IMPORTED_PARTS:
            parts.append(read_part(part, here))
    if all(part["type"] == "text" for part in parts) and len(parts) <= 1:
        return []  # the plain text of `content`
    return parts


def read_part(part: dict[str, Any], where: str) -> Part:
    kind = part["type"]
    if kind == "text":
        return {"type": "text", "text": text(part.get("text"), f"{where}: text")}
    if kind == "tool_call":
        return {
            "type": "tool_call",
            "id": text(part.get("id"), f"{where}: id", limit=KEY_MAX),
            "name": text(part.get("name"), f"{where}: name", limit=KEY_MAX),
            "arguments": text(part.get("arguments"), f"{where}: arguments"),
            **({"partial": True} if part.get("partial") is True else {}),
        }
    if not isinstance(part.get("is_error", False), bool):
        raise ImportRejected(f"{where}: is_error must be true or false.")
    return {
        "type": "tool_result",
        "call_id": text(part.get("call_id"), f"{where}: call_id", limit=KEY_MAX),
        "name": text(part.get("name"), f"{where}: name", limit=KEY_MAX),
        "content": text(part.get("content"), f"{where}: content"),
        "is_error": part.get("is_error", False),
    }


def read_usage(message: ImportedMessage, usage: Any, where: str) -> None:
    """Tokens and cost kept on the message as a record; they count toward no budget here."""
    if usage is None:
        return
    if not isinstance(usage, dict):
        raise ImportRejected(f"{where}: usage must be an object or null.")
    message.prompt_tokens = count(usage.get("prompt_tokens"), f"{where}: usage.prompt_tokens")
    message.completion_tokens = count(usage.get("completion_tokens"), f"{where}: usage.completion_tokens")
    cost = usage.get("cost_usd")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 <= cost < 1e7):
        raise ImportRejected(f"{where}: usage.cost_usd must be a number from 0, or null.")
    message.cost_usd = None if cost is None else Decimal(str(cost))
    if not isinstance(usage.get("estimated", False), bool):
        raise ImportRejected(f"{where}: usage.estimated must be true or false.")
    message.usage_estimated = usage.get("estimated", False)


def count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ImportRejected(f"{where} must be a whole number from 0.")
    return value
