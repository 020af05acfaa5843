"""Full-text search indexes: `tsvector` columns with GIN indexes on PostgreSQL, FTS5 tables kept
by triggers on SQLite (conversations/search/schema.py says why they are not model fields).
Installing them indexes every existing message and title."""

from django.db import migrations

from conversations.search import schema


def install(apps, schema_editor):
    schema.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    schema.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0016_tool_narrowing_and_replay"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
