"""The one read every search surface uses: the user's hits for a query, from the best engine
this database has."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from . import fts5, postgres, substring, terms
from .hits import Hit

POSTGRESQL, FTS5, SUBSTRING = "postgresql", "fts5", "substring"


def engine() -> str:
    """Which engine answers on this database: PostgreSQL's, FTS5, or the substring fallback."""
    if connection.vendor == "postgresql":
        return POSTGRESQL
    if connection.vendor == "sqlite" and fts5.installed():
        return FTS5
    return SUBSTRING


def search_hits(*, user: AbstractBaseUser, text: str, limit: int, engine_name: str | None = None) -> list[Hit]:
    """The user's matching titles and messages (every branch), best first; only the owner's.
    `engine_name` forces one (the benchmark compares them)."""
    groups = terms.parse(text)
    if not groups:
        return []
    chosen = engine_name or engine()
    if chosen == POSTGRESQL:
        return postgres.search(user=user, text=terms.websearch_text(groups), limit=limit)
    if chosen == FTS5:
        return fts5.search(user=user, groups=groups, limit=limit)
    return substring.search(user=user, groups=groups, limit=limit)
