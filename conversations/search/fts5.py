"""Search on SQLite with FTS5 (schema.py): `bm25` for order and `snippet`/`highlight` for the
marked text. FTS5 is not something the ORM writes, so the match itself is SQL; everything
else is read through the ORM."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from ..models import Conversation, Message
from . import highlight, terms
from .hits import MESSAGE_FIELDS, TITLE_FIELDS, Hit, best_first, message_hit, title_hit
from .schema import fts_table

SNIPPET_TOKENS = 24  # words around the match in a message's snippet
MARKS = (highlight.START, highlight.STOP)

MESSAGES_FTS, TITLES_FTS = fts_table("conversations_message"), fts_table("conversations_conversation")
MESSAGE_MATCHES = f"""
    SELECT {MESSAGES_FTS}.source_id, -bm25({MESSAGES_FTS}),
           snippet({MESSAGES_FTS}, 0, %s, %s, '{highlight.ELLIPSIS}', {SNIPPET_TOKENS})
    FROM {MESSAGES_FTS}
    JOIN conversations_message AS m ON m.id = {MESSAGES_FTS}.source_id
    JOIN conversations_conversation AS c ON c.id = m.conversation_id
    WHERE {MESSAGES_FTS} MATCH %s AND c.owner_id = %s
    ORDER BY bm25({MESSAGES_FTS}), m.created_at DESC
    LIMIT %s
"""
TITLE_MATCHES = f"""
    SELECT {TITLES_FTS}.source_id, -bm25({TITLES_FTS}), highlight({TITLES_FTS}, 0, %s, %s)
    FROM {TITLES_FTS}
    JOIN conversations_conversation AS c ON c.id = {TITLES_FTS}.source_id
    WHERE {TITLES_FTS} MATCH %s AND c.owner_id = %s
    ORDER BY bm25({TITLES_FTS}), c.created_at DESC
    LIMIT %s
"""


def installed() -> bool:
    """Whether the `message_search` migration could create the FTS5 tables (it cannot without FTS5)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [MESSAGES_FTS])
        return cursor.fetchone() is not None


def matches(sql: str, expression: str, user: AbstractBaseUser, limit: int) -> dict[uuid.UUID, tuple[float, str]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [*MARKS, expression, user.pk, limit])
        return {
            uuid.UUID(source_id): (rank, highlight.marked_html(text)) for source_id, rank, text in cursor.fetchall()
        }


def message_hits(user: AbstractBaseUser, expression: str, limit: int) -> list[Hit]:
    found = matches(MESSAGE_MATCHES, expression, user, limit)
    rows = Message.objects.filter(id__in=found).values(*MESSAGE_FIELDS)
    return [message_hit(row, rank=found[row["id"]][0], snippet=found[row["id"]][1]) for row in rows]


def title_hits(user: AbstractBaseUser, expression: str, limit: int) -> list[Hit]:
    found = matches(TITLE_MATCHES, expression, user, limit)
    rows = Conversation.objects.filter(id__in=found).values(*TITLE_FIELDS)
    return [title_hit(row, rank=found[row["id"]][0], snippet=found[row["id"]][1]) for row in rows]


def search(*, user: AbstractBaseUser, groups: list[terms.Group], limit: int) -> list[Hit]:
    expression = terms.fts5_expression(groups)
    return best_first(title_hits(user, expression, limit), message_hits(user, expression, limit), limit)
