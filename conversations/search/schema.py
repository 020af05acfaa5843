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
from dataclasses import dataclass

from .highlight import UNTAG

logger = logging.getLogger(__name__)

CONFIG = "english"  # PostgreSQL text-search configuration: English stemming and stop words
TOKENIZER = "porter unicode61 remove_diacritics 2"  # SQLite's nearest equivalent
INDEXED_CHARACTERS = 100_000


@dataclass(frozen=True)
class Source:
    """A searchable table: its text column, the columns whose update re-indexes a row, and which
    rows are not indexed (yet), as SQL over `{row}` (empty, or `new.` in a trigger)."""

    table: str
    column: str
    watched: str
    skipped: str = ""

    def indexed(self, row: str = "") -> str:
        """A WHERE clause of the rows indexed, for SQLite."""
        return f" WHERE NOT ({self.skipped.format(row=row)})" if self.skipped else ""


SOURCES = (
    # A reply is indexed once it ends: its checkpoints while it streams (every few seconds, the whole
    # text so far) would otherwise tokenize it again each time (docs/performance.md).
    Source("conversations_message", "content", "content, status", "{row}status = 'streaming'"),
    Source("conversations_conversation", "title", "title"),
)
MIGRATION = ("conversations", "0017_message_search")  # the one that installs them


def fts_table(table: str) -> str:
    return f"{table}_fts"


def postgres_install(cursor) -> None:
    for source in SOURCES:
        untag = f"E'<\\{ord(UNTAG):03o}'"
        document = f"replace(left(coalesce({source.column}, ''), {INDEXED_CHARACTERS}), '<', {untag})"
        vector = f"to_tsvector('{CONFIG}'::regconfig, {document})"
        if source.skipped:
            vector = f"CASE WHEN {source.skipped.format(row='')} THEN NULL ELSE {vector} END"
        cursor.execute(
            f"ALTER TABLE {source.table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED"
        )
        cursor.execute(f"CREATE INDEX {source.table}_search ON {source.table} USING gin (search_vector)")


def postgres_uninstall(cursor) -> None:
    for source in SOURCES:
        cursor.execute(f"ALTER TABLE {source.table} DROP COLUMN search_vector")  # drops its index too


def sqlite_has_fts5(cursor) -> bool:
    cursor.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
    return bool(cursor.fetchone()[0])


def sqlite_triggers(source: Source) -> dict[str, str]:
    table, column, fts = source.table, source.column, fts_table(source.table)
    forget = f"DELETE FROM {fts} WHERE rowid = old.rowid AND source_id = old.id;"
    index = (
        f"INSERT OR REPLACE INTO {fts}(rowid, {column}, source_id) "
        f"SELECT new.rowid, new.{column}, new.id{source.indexed('new.')};"
    )
    return {
        f"{fts}_insert": f"AFTER INSERT ON {table} BEGIN {index} END",
        f"{fts}_update": f"AFTER UPDATE OF {source.watched} ON {table} BEGIN {forget} {index} END",
        f"{fts}_delete": f"AFTER DELETE ON {table} BEGIN {forget} END",
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
    for source in SOURCES:
        table, column, fts = source.table, source.column, fts_table(source.table)
        triggers = sqlite_triggers(source)
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
        cursor.execute(
            f"INSERT INTO {fts}(rowid, {column}, source_id) SELECT rowid, {column}, id FROM {table}{source.indexed()}"
        )
        repaired = True
    return repaired


def sqlite_uninstall(cursor) -> None:
    for source in SOURCES:
        for name in sqlite_triggers(source):
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {fts_table(source.table)}")


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
