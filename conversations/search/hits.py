"""What every search engine returns: one hit per matching message or conversation title."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Hit:
    """A match. `message_id` is None when the conversation's title matched; `snippet` is safe HTML
    in which only `<mark>` is markup (highlight.py)."""

    conversation_id: uuid.UUID
    conversation_title: str
    conversation_archived: bool
    message_id: uuid.UUID | None
    role: str | None
    snippet: str
    rank: float
    created_at: datetime


def best_first(title_hits: list[Hit], message_hits: list[Hit], limit: int) -> list[Hit]:
    """Titles and messages together, highest rank first, newest first among equals."""
    hits = sorted(title_hits + message_hits, key=lambda hit: hit.created_at, reverse=True)
    return sorted(hits, key=lambda hit: hit.rank, reverse=True)[:limit]


MESSAGE_FIELDS = ("id", "conversation_id", "conversation__title", "conversation__archived", "role", "created_at")
TITLE_FIELDS = ("id", "title", "archived", "created_at")  # what title_hit reads


def message_hit(row: dict, *, snippet: str, rank: float) -> Hit:
    """A matching message, from its MESSAGE_FIELDS (what this function reads)."""
    return Hit(
        conversation_id=row["conversation_id"],
        conversation_title=row["conversation__title"],
        conversation_archived=row["conversation__archived"],
        message_id=row["id"],
        role=row["role"],
        snippet=snippet,
        rank=rank,
        created_at=row["created_at"],
    )


def title_hit(row: dict, *, snippet: str, rank: float) -> Hit:
    """A conversation whose title matches, from its TITLE_FIELDS."""
    return Hit(
        conversation_id=row["id"],
        conversation_title=row["title"],
        conversation_archived=row["archived"],
        message_id=None,
        role=None,
        snippet=snippet,
        rank=rank,
        created_at=row["created_at"],
    )
