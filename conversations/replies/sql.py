"""The two statements a streaming reply runs as it goes, in SQL: its checkpoints and its final save.

Through the ORM (`bulk_update`'s CASE per row and field, built in Python) they cost more server CPU
per token and latency than the performance budget allows (docs/performance.md). The SQL takes its
table and column names from the models and runs on the database the router picks for messages.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from django.db import connections

from ..models import Message


class Statements(NamedTuple):
    finish: str
    checkpoint: str


@functools.cache
def statements(alias: str) -> Statements:
    """The statements for one database, with its quoting and the model's table and column names."""
    connection = connections[alias]

    def name(field: str | None = None) -> str:
        meta = Message._meta
        return connection.ops.quote_name(meta.db_table if field is None else meta.get_field(field).column)

    finished = ", ".join(
        f"{name(field)} = %s"
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
    return Statements(
        finish=f"UPDATE {name()} SET {finished} WHERE {name('id')} = %s AND {name('status')} = %s",
        checkpoint=f"UPDATE {name()} SET {name('content')} = %s, {name('seq')} = %s, "
        f"{name('heartbeat_at')} = %s WHERE {name('id')} = %s AND {name('status')} = %s",
    )


def prepared(model, field: str, value, alias: str):
    """A value as the field sends it to this database (UUIDs are text on SQLite, for one)."""
    return model._meta.get_field(field).get_db_prep_value(value, connections[alias])
