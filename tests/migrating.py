"""Moving the test database between migrations, for the tests of data migrations."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets: list[tuple[str, str]] | None = None):
    """Migrate the test database to `targets` (None: the latest) and return the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def migrator(transactional_db):
    """`migrate_to`, inside a test (import it into a conftest); the latest migration again afterwards."""
    yield migrate_to
    migrate_to()
