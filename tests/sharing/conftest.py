"""Fixtures for the share link tests."""

from __future__ import annotations

from tests.migrating import migrator  # noqa: F401  (a fixture, for test_snapshot_migration.py)
