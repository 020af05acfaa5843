"""The search indexes, which live beside the models rather than in them: PostgreSQL has no FTS5
and SQLite no `tsvector`, and one model serves both. Installed by the `message_search` migration; on SQLite
`ensure_sqlite_index` runs again after every `migrate` (signals.py), because Django rebuilds a table
to alter it there, and a rebuilt table has lost its triggers.

PostgreSQL: a STORED generated `search_vector` column per table, with a GIN index. The database
keeps it current on every write path (services, `QuerySet.update`, `bulk_create`, imports, the
admin) with no code of ours, and adding it computes it for every existing row. It is not a model
field, so no query loads it unless it asks (postgres.py). Only the first INDEXED_CHARACTERS of a
text are indexed: a `tsvector` is limited to 1 MB, and an over-long reply must never fail to save.
PostgreSQL's parser drops anything shaped like an HTML tag, and the text inside `<script>`, which
would hide code from search; so every `<` is followed by UNTAG first (the snippet does the same).
Altering `content` or `title` later means dropping the column first (PostgreSQL refuses otherwise).

SQLite: an FTS5 table per source table holding a copy of the text and the source row's id, filled
by triggers. Rows are tied by rowid for cheap updates and deletes, and every trigger also checks
the id, so a rowid that moved can only leave a hit missing, never attach text to the wrong row;
searches join on the id.
"""

from __future__ import annotations

import logging

from .highlight import UNTAG

logger = logging.getLogger(__name__)

CONFIG = "english"  # PostgreSQL text-search configuration: English stemming and stop words
TOKENIZER = "porter unicode61 remove_diacritics 2"  # SQLite's nearest equivalent
INDEXED_CHARACTERS = 100_000
# (table, text column): what is searchable.
SOURCES = (("conversations_message", "content"), ("conversations_conversation", "title"))
MIGRATION = ("conversations", "0017_message_search")  # the one that installs them


def fts_table(table: str) -> str:
    return f"{table}_fts"


def postgres_install(cursor) -> None:
    for table, column in SOURCES:
        untag = f"E'<\\{ord(UNTAG):03o}'"
        document = f"replace(left(coalesce({column}, ''), {INDEXED_CHARACTERS}), '<', {untag})"
        cursor.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('{CONFIG}'::regconfig, {document})) STORED"
        )
        cursor.execute(f"CREATE INDEX {table}_search ON {table} USING gin (search_vector)")


def postgres_uninstall(cursor) -> None:
    for table, _ in SOURCES:
        cursor.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")  # drops its index too


def sqlite_has_fts5(cursor) -> bool:
    cursor.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
    return bool(cursor.fetchone()[0])


def sqlite_triggers(table: str, column: str) -> dict[str, str]:
    fts = fts_table(table)
    return {
        f"{fts}_insert": f"AFTER INSERT ON {table} BEGIN "
        f"INSERT OR REPLACE INTO {fts}(rowid, {column}, source_id) VALUES (new.rowid, new.{column}, new.id); END",
        f"{fts}_update": f"AFTER UPDATE OF {column} ON {table} BEGIN "
        f"UPDATE {fts} SET {column} = new.{column} WHERE rowid = old.rowid AND source_id = old.id; END",
        f"{fts}_delete": f"AFTER DELETE ON {table} BEGIN "
        f"DELETE FROM {fts} WHERE rowid = old.rowid AND source_id = old.id; END",
    }


def ensure_sqlite_index(cursor) -> bool:
    """Create whatever is missing of the FTS5 tables and triggers, and refill a table whose
    triggers were missing; true when something had to be done. No FTS5: nothing (the substring
    engine answers searches)."""
    if not sqlite_has_fts5(cursor):
        logger.warning("This SQLite has no FTS5: search falls back to substring matching (docs/search.md).")
        return False
    cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
    present = {row[0] for row in cursor.fetchall()}
    repaired = False
    for table, column in SOURCES:
        fts = fts_table(table)
        triggers = sqlite_triggers(table, column)
        if fts in present and present.issuperset(triggers):
            continue
        if fts not in present:
            cursor.execute(
                f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, source_id UNINDEXED, tokenize = '{TOKENIZER}')"
            )
        for name, body in triggers.items():
            if name not in present:
                cursor.execute(f"CREATE TRIGGER {name} {body}")
        cursor.execute(f"DELETE FROM {fts}")
        cursor.execute(f"INSERT INTO {fts}(rowid, {column}, source_id) SELECT rowid, {column}, id FROM {table}")
        repaired = True
    return repaired


def sqlite_uninstall(cursor) -> None:
    for table, column in SOURCES:
        for name in sqlite_triggers(table, column):
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {fts_table(table)}")


def install(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            postgres_install(cursor)
        elif connection.vendor == "sqlite":
            ensure_sqlite_index(cursor)


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            postgres_uninstall(cursor)
        elif connection.vendor == "sqlite":
            sqlite_uninstall(cursor)
