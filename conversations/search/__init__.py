"""Full-text search over a user's conversation titles and messages (docs/search.md).

PostgreSQL ranks with `tsvector` columns and GIN indexes, SQLite with FTS5 tables kept in sync
by triggers, and a substring match stands in when SQLite has no FTS5. `selectors.search_hits`
picks the engine; every engine returns the same `Hit`s with HTML-safe snippets.
"""
