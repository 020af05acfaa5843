"""A throwaway database for Parley per benchmark run: a fresh PostgreSQL database or a SQLite file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"  # where CREATE DATABASE is issued


@contextlib.contextmanager
def throwaway(kind: str, workdir: Path, suffix: str = "", admin_url: str = DEFAULT_ADMIN_URL) -> Iterator[str]:
    """Yield a DATABASE_URL for a database that exists only for this run; `suffix` tells trees apart."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'parley{suffix}.sqlite3'}"
        return
    name = f"bench_parley_{os.getpid()}{suffix}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
