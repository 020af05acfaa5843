"""Plain SQL for the statements every reply runs: the ones that start, checkpoint and finish it.

Through the ORM, starting a reply cost about 3.5 ms of CPU in the worker thread, six times the
same statements as plain SQL (docs/performance.md). A burst of sends took that CPU, and the GIL,
from the event loop streaming every other reply. Table and column names come from the models,
and values are prepared by the model fields, so the SQL follows the schema on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model

from .models import Conversation, Message


class Names:
    """A model's quoted table name as `{m}` and its quoted column names as `{m.field}` in format()."""

    __slots__ = ("_model",)  # no attribute may shadow a field name: `model` is one

    def __init__(self, model: type[Model]) -> None:
        self._model = model

    def __str__(self) -> str:
        return connection.ops.quote_name(self._model._meta.db_table)

    def __getattr__(self, field: str) -> str:
        meta = self._model._meta
        return connection.ops.quote_name((meta.pk if field == "pk" else meta.get_field(field)).column)


class Turn(NamedTuple):
    """The columns of a conversation's messages that starting a reply needs."""

    id: uuid.UUID
    position: int
    role: str
    status: str
    request_id: str
    content: str


class Statements(NamedTuple):
    lock: str
    turns: str
    running: str
    touch: str
    touch_titled: str
    checkpoint: str
    finish: str


@functools.cache
def statements(vendor: str) -> Statements:
    names = {"c": Names(Conversation), "m": Names(Message), "u": Names(get_user_model())}
    # Locking the owner's row as well serialises the per-user cap across all their conversations.
    lock = " FOR UPDATE OF {c}, {u}" if connection.features.has_select_for_update_of else ""
    sql = Statements(
        lock="SELECT {c}.{c.title}, {c}.{c.system_prompt} FROM {c} JOIN {u} ON {u}.{u.pk} = {c}.{c.owner} "
        "WHERE {c}.{c.id} = %s AND {c}.{c.owner} = %s" + lock,
        turns="SELECT {m.id}, {m.position}, {m.role}, {m.status}, {m.request_id}, {m.content} "
        "FROM {m} WHERE {m.conversation} = %s ORDER BY {m.position}",
        running="SELECT COUNT(*) FROM {m} JOIN {c} ON {c}.{c.id} = {m}.{m.conversation} "
        "WHERE {c}.{c.owner} = %s AND {m}.{m.status} = %s",
        touch="UPDATE {c} SET {c.updated_at} = %s WHERE {c.id} = %s",
        touch_titled="UPDATE {c} SET {c.updated_at} = %s, {c.title} = %s WHERE {c.id} = %s",
        checkpoint="UPDATE {m} SET {m.content} = %s, {m.seq} = %s, {m.heartbeat_at} = %s "
        "WHERE {m.id} = %s AND {m.status} = %s",
        finish="UPDATE {m} SET {m.content} = %s, {m.seq} = %s, {m.status} = %s, {m.error} = %s, {m.model} = %s, "
        "{m.prompt_tokens} = %s, {m.completion_tokens} = %s, {m.finished_at} = %s "
        "WHERE {m.id} = %s AND {m.status} = %s",
    )
    return Statements(*(statement.format(**names) for statement in sql))


def sql() -> Statements:
    return statements(connection.vendor)


def prepared(model: type[Model], field: str, value):
    """A value as the field would send it to this database (UUIDs and datetimes differ by vendor)."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)


def read_request(conversation_id: uuid.UUID, owner_id) -> tuple[tuple | None, list[Turn], int]:
    """Lock the conversation and its owner, then read the conversation's title and system prompt
    (None if it is not the owner's), its turns, and how many replies the owner has streaming."""
    conversation_key = prepared(Conversation, "id", conversation_id)
    owner_key = prepared(Conversation, "owner", owner_id)
    statements = sql()
    with connection.cursor() as cursor:
        cursor.execute(statements.lock, [conversation_key, owner_key])
        conversation = cursor.fetchone()
        cursor.execute(statements.turns, [conversation_key])
        turns = [Turn(_uuid(row[0]), *row[1:]) for row in cursor.fetchall()]
        cursor.execute(statements.running, [owner_key, Message.Status.STREAMING.value])
        return conversation, turns, cursor.fetchone()[0]


def insert(objs: Sequence[Model]) -> None:
    """One multi-row INSERT of new instances, filling defaults as Model.save() does."""
    model = type(objs[0])
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {Names(model)} ({columns}) VALUES {', '.join([row] * len(objs))}", params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)  # SQLite returns hex text
