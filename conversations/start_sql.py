"""The three reads that open a reply's start, in SQL: lock the conversation and its owner, read
its turns, count the owner's streaming replies.

Through the ORM these three cost a reply start most of its CPU, and every start runs them: end to
end that was 40% more server CPU per token and three times the first-token delay in a burst of
sends (docs/performance.md). Everything else in a reply's life uses the ORM. Names come from the
models, so a renamed table or column changes the SQL with it, and the statements run on the
database the router picks for writing messages.
"""

from __future__ import annotations

import functools
import uuid
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import connections, router

from .models import Conversation, Message

# What a start reads of the conversation, in the model's field order, as Model.from_db expects.
LOCK_FIELDS = tuple(
    f.attname for f in Conversation._meta.concrete_fields if f.name in {"title", "system_prompt", "model"}
)


class Turn(NamedTuple):
    """The columns of a conversation's messages that starting a reply needs."""

    id: uuid.UUID
    position: int
    role: str
    status: str
    request_id: str
    content: str


def database() -> str:
    """The alias the start's transaction and statements use."""
    return router.db_for_write(Message)


def lock_conversation(conversation_id: uuid.UUID, owner_id) -> Conversation | None:
    """The owner's conversation, its row and the owner's locked until commit; None if missing.

    Locking the owner's row as well serialises the per-user cap across all their conversations.
    """
    alias = database()
    with connections[alias].cursor() as cursor:
        cursor.execute(_statements(alias).lock, [_prepared(Conversation, "id", conversation_id, alias), owner_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return Conversation.from_db(alias, ["id", "owner_id", *LOCK_FIELDS], [conversation_id, owner_id, *row])


def turns(conversation_id: uuid.UUID) -> list[Turn]:
    """The conversation's messages in order, with the columns a start reads."""
    alias = database()
    with connections[alias].cursor() as cursor:
        cursor.execute(_statements(alias).turns, [_prepared(Message, "conversation", conversation_id, alias)])
        return [Turn(_uuid(row[0]), *row[1:]) for row in cursor.fetchall()]


def streaming_count(owner_id) -> int:
    """How many replies the owner has streaming, in every conversation and process."""
    alias = database()
    with connections[alias].cursor() as cursor:
        cursor.execute(_statements(alias).streaming_count, [owner_id, Message.Status.STREAMING.value])
        return cursor.fetchone()[0]


class Statements(NamedTuple):
    lock: str
    turns: str
    streaming_count: str


@functools.cache
def _statements(alias: str) -> Statements:
    """The three statements for one database, with its quoting and the models' table and column names."""
    connection = connections[alias]

    def name(model, field: str | None = None) -> str:
        meta = model._meta
        return connection.ops.quote_name(meta.db_table if field is None else meta.get_field(field).column)

    c, m, u = name(Conversation), name(Message), name(get_user_model())
    owner_pk = connection.ops.quote_name(get_user_model()._meta.pk.column)
    fields = ", ".join(f"{c}.{name(Conversation, field)}" for field in LOCK_FIELDS)
    lock = f" FOR UPDATE OF {c}, {u}" if connection.features.has_select_for_update_of else ""
    return Statements(
        lock=f"SELECT {fields} FROM {c} JOIN {u} ON {u}.{owner_pk} = {c}.{name(Conversation, 'owner')} "
        f"WHERE {c}.{name(Conversation, 'id')} = %s AND {c}.{name(Conversation, 'owner')} = %s{lock}",
        turns=f"SELECT {', '.join(name(Message, field) for field in Turn._fields)} FROM {m} "
        f"WHERE {name(Message, 'conversation')} = %s ORDER BY {name(Message, 'position')}",
        streaming_count=f"SELECT COUNT(*) FROM {m} JOIN {c} ON {c}.{name(Conversation, 'id')} = "
        f"{m}.{name(Message, 'conversation')} WHERE {c}.{name(Conversation, 'owner')} = %s "
        f"AND {m}.{name(Message, 'status')} = %s",
    )


def _prepared(model, field: str, value, alias: str):
    """A value as the field sends it to this database (UUIDs are text on SQLite, for one)."""
    return model._meta.get_field(field).get_db_prep_value(value, connections[alias])


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)  # SQLite returns hex text
