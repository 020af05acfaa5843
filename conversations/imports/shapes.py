"""What every import format is read into before anything is saved, and the checks all of them share.

Reading is pure (no database), so a file is refused whole, with words naming where it is wrong,
before the one transaction that saves it begins.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from ..parts import Part
from ..protocol import FORBIDDEN_DETAIL, has_forbidden_characters

TITLE_MAX = 200  # Conversation.title's length; longer titles are cut, not refused
SYSTEM_PROMPT_MAX = 20_000  # the JSON API's own bound on a system prompt
IMPORTED_TITLE = "Imported chat"


class ImportRejected(Exception):
    """A file that cannot be imported; `detail` says where and why, and nothing was saved."""

    def __init__(self, detail: str, *, status: int = 400, code: str = "invalid_import") -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code


@dataclasses.dataclass(slots=True)
class ImportedMessage:
    """One message as read from a file; `key` is its id there, `parent` its parent's key."""

    key: str
    parent: str | None
    role: str
    content: str
    created_at: datetime | None
    parts: list[Part] = dataclasses.field(default_factory=list)
    status: str = "complete"
    error: str = ""
    model: str = ""
    seq: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None
    usage_estimated: bool = False


@dataclasses.dataclass(slots=True)
class ImportedConversation:
    """One conversation as read from a file: messages listed parents first, and the leaf shown."""

    title: str
    messages: list[ImportedMessage]
    active_leaf: str | None = None
    system_prompt: str = ""
    temperature: float | None = None
    model_name: str | None = None  # "provider/name" of a catalog model, used when this user may use it
    updated_at: datetime | None = None
    pinned: bool = False
    archived: bool = False
    skipped: int = 0  # messages of the file left out (hidden, system or tool messages of ChatGPT)


def text(value: Any, where: str, *, limit: int | None = None) -> str:
    """A string field, checked as every text Parley stores is: valid Unicode, no NUL or control character."""
    if not isinstance(value, str):
        raise ImportRejected(f"{where} must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ImportRejected(f"{where} must be valid Unicode text.") from None
    if has_forbidden_characters(value):
        raise ImportRejected(f"{where}: " + FORBIDDEN_DETAIL.format(name="its text"))
    if limit is not None and len(value) > limit:
        raise ImportRejected(f"{where} is longer than {limit} characters.")
    return value


def optional_text(value: Any, where: str, *, limit: int | None = None) -> str:
    return "" if value is None else text(value, where, limit=limit)


def title(value: Any, where: str) -> str:
    cleaned = " ".join(optional_text(value, f"{where}: the title").split())
    return cleaned[:TITLE_MAX] or IMPORTED_TITLE


def timestamp(value: Any, where: str) -> datetime | None:
    """An ISO 8601 time (naive means UTC) or seconds since the epoch; None when absent."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ImportRejected(f"{where} is not a time.")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ImportRejected(f"{where} is not a time.") from None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ImportRejected(f"{where} is not an ISO 8601 time.")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def flag(value: Any, where: str) -> bool:
    """A true/false field; absent (null) is false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ImportRejected(f"{where} must be true or false.")
    return value


def check_tree(messages: list[ImportedMessage], where: str) -> None:
    """Each key once, and each parent listed before its child: so there is no cycle and no missing parent."""
    seen: set[str] = set()
    for message in messages:
        if message.key in seen:
            raise ImportRejected(f"{where}: message {message.key} is listed twice.")
        if message.parent is not None and message.parent not in seen:
            raise ImportRejected(
                f"{where}: message {message.key} names parent {message.parent}, which is not listed before it "
                "(a missing message, or a cycle)."
            )
        seen.add(message.key)
