"""After every `migrate` on SQLite, put back search triggers that a rebuilt table lost (schema.py)."""

from __future__ import annotations

import logging

from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from . import schema

logger = logging.getLogger(__name__)


@receiver(post_migrate, dispatch_uid="conversations.search.ensure_sqlite_index")
def ensure_sqlite_index(sender, using: str = "default", **kwargs) -> None:
    if sender.name != "conversations":
        return
    connection = connections[using]
    if connection.vendor != "sqlite" or schema.MIGRATION not in MigrationRecorder(connection).applied_migrations():
        return
    with connection.cursor() as cursor:
        if schema.ensure_sqlite_index(cursor):
            logger.info("Rebuilt the SQLite search index: a migration had rebuilt a searched table.")
