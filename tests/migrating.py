"""Running the project's migrations to a point and back, for the tests that prove a migration lossless."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate the test database to `targets`; the app registry as it stands there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def migrator(transactional_db):
    """`migrate`, with the database put back on the latest migrations afterwards."""
    yield migrate
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
