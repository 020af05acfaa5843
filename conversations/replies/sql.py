"""The statements every reply runs, in SQL: at its start (lock the conversation and its owner, read
its turns, count the owner's streaming replies, insert the messages, bump the conversation), at its
finish and in each checkpoint.

Through the ORM these cost more server CPU per token, first-token delay and latency than the
performance budget allows (docs/performance.md). The SQL takes its table and column names from the
models and runs on the database the router picks for writing messages.
"""

from __future__ import annotations

import functools
import uuid
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.utils import timezone

from ..models import ApiCall, Conversation, Message

# What a start reads of the conversation, in the model's field order, as Model.from_db expects.
LOCK_FIELDS = tuple(
    f.attname
    for f in Conversation._meta.concrete_fields
    if f.name in {"title", "system_prompt", "model", "temperature", "has_attachments", "has_tool_calls", "active_leaf"}
)


class Turn(NamedTuple):
    """The columns of a conversation's messages that starting a reply needs."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    position: int
    role: str
    status: str
    request_id: str
    content: str


def database() -> str:
    """The alias the start's transaction and SQL statements use: the router's, for writing messages."""
    return router.db_for_write(Message)


def lock_conversation(conversation_id: uuid.UUID, owner_id) -> Conversation | None:
    """The owner's conversation, its row and the owner's locked until commit; None if missing.

    Locking the owner's row as well serialises the per-user cap across all their conversations.
    The owner's row is locked first (FOR UPDATE OF locks in the order it names), as a batch of
    starts locks its owners before their conversations (together.py), so the two never deadlock.
    """
    alias = database()
    with connections[alias].cursor() as cursor:
        cursor.execute(statements(alias).lock, [prepared(Conversation, "id", conversation_id, alias), owner_id])
        row = cursor.fetchone()
    if row is None:
        return None
    conversation = Conversation.from_db(alias, ["id", "owner_id", *LOCK_FIELDS], [conversation_id, owner_id, *row])
    conversation.active_leaf_id = as_uuid(conversation.active_leaf_id)
    return conversation


def read_turns(conversation_id: uuid.UUID) -> list[Turn]:
    """The conversation's messages in order, with the columns a start reads."""
    alias = database()
    with connections[alias].cursor() as cursor:
        cursor.execute(statements(alias).turns, [prepared(Message, "conversation", conversation_id, alias)])
        return [Turn(as_uuid(row[0]), as_uuid(row[1]), *row[2:]) for row in cursor.fetchall()]


def streaming_count(owner_id) -> int:
    """How many replies the owner has streaming, in every conversation and process, counting the
    unsaved /v1/ calls still in flight (`ApiCall`) like streaming replies."""
    alias = database()
    now = prepared(ApiCall, "expires_at", timezone.now(), alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(statements(alias).streaming_count, [owner_id, Message.Status.STREAMING.value, owner_id, now])
        return cursor.fetchone()[0]


def insert(messages: list[Message]) -> None:
    """One multi-row INSERT of new messages, with the values and defaults Model.save() would send."""
    alias = database()
    connection = connections[alias]
    fields = Message._meta.concrete_fields
    params = [
        field.get_db_prep_save(field.pre_save(message, True), connection) for message in messages for field in fields
    ]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(statements(alias).insert + ", ".join([row] * len(messages)), params)
    for message in messages:
        message._state.adding, message._state.db = False, alias


class Statements(NamedTuple):
    lock: str
    turns: str
    streaming_count: str
    insert: str  # its VALUES rows are added per call
    touch: str
    touch_leaf: str
    touch_leaf_titled: str
    finish: str
    checkpoint: str


@functools.cache
def statements(alias: str) -> Statements:
    """The statements for one database, with its quoting and the models' table and column names."""
    connection = connections[alias]

    def name(model, field: str | None = None) -> str:
        meta = model._meta
        return connection.ops.quote_name(meta.db_table if field is None else meta.get_field(field).column)

    c, m, u = name(Conversation), name(Message), name(get_user_model())
    owner_pk = connection.ops.quote_name(get_user_model()._meta.pk.column)
    fields = ", ".join(f"{c}.{name(Conversation, field)}" for field in LOCK_FIELDS)
    lock = f" FOR UPDATE OF {u}, {c}" if connection.features.has_select_for_update_of else ""
    columns = ", ".join(connection.ops.quote_name(field.column) for field in Message._meta.concrete_fields)
    finished = ", ".join(
        f"{name(Message, field)} = %s"
        for field in (
            "content",
            "seq",
            "status",
            "error",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "usage_estimated",
            "parts",
            "finished_at",
        )
    )
    touched = f"{name(Conversation, 'updated_at')} = %s, {name(Conversation, 'active_leaf')} = %s"
    return Statements(
        lock=f"SELECT {fields} FROM {c} JOIN {u} ON {u}.{owner_pk} = {c}.{name(Conversation, 'owner')} "
        f"WHERE {c}.{name(Conversation, 'id')} = %s AND {c}.{name(Conversation, 'owner')} = %s{lock}",
        turns=f"SELECT {', '.join(name(Message, field) for field in Turn._fields)} FROM {m} "
        f"WHERE {name(Message, 'conversation')} = %s ORDER BY {name(Message, 'position')}",
        streaming_count=f"SELECT (SELECT COUNT(*) FROM {m} JOIN {c} ON {c}.{name(Conversation, 'id')} = "
        f"{m}.{name(Message, 'conversation')} WHERE {c}.{name(Conversation, 'owner')} = %s "
        f"AND {m}.{name(Message, 'status')} = %s) + (SELECT COUNT(*) FROM {name(ApiCall)} "
        f"WHERE {name(ApiCall, 'owner')} = %s AND {name(ApiCall, 'expires_at')} > %s)",
        insert=f"INSERT INTO {m} ({columns}) VALUES ",
        touch=f"UPDATE {c} SET {name(Conversation, 'updated_at')} = %s WHERE {name(Conversation, 'id')} = %s",
        touch_leaf=f"UPDATE {c} SET {touched} WHERE {name(Conversation, 'id')} = %s",
        touch_leaf_titled=f"UPDATE {c} SET {touched}, {name(Conversation, 'title')} = %s "
        f"WHERE {name(Conversation, 'id')} = %s",
        finish=f"UPDATE {m} SET {finished} WHERE {name(Message, 'id')} = %s AND {name(Message, 'status')} = %s",
        checkpoint=f"UPDATE {m} SET {name(Message, 'content')} = %s, {name(Message, 'seq')} = %s, "
        f"{name(Message, 'heartbeat_at')} = %s WHERE {name(Message, 'id')} = %s AND {name(Message, 'status')} = %s",
    )


def prepared(model, field: str, value, alias: str):
    """A value as the field sends it to this database (UUIDs are text on SQLite, for one)."""
    return model._meta.get_field(field).get_db_prep_value(value, connections[alias])


def as_uuid(value):
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(value)  # SQLite returns hex text
