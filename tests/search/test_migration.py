"""The search migration indexes the messages and titles that already exist, on both databases."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from conversations.search import schema, selectors

pytestmark = pytest.mark.db

BEFORE = MigrationLoader(None, ignore_no_migrations=True).get_migration(*schema.MIGRATION).dependencies


def test_existing_messages_and_titles_are_found_after_migrating(migrator):
    old = migrator(BEFORE)
    User = old.get_model("auth", "User")
    Conversation, Message = old.get_model("conversations", "Conversation"), old.get_model("conversations", "Message")
    owner = User.objects.create(username="dora")
    chat = Conversation.objects.create(owner=owner, title="Old lighthouse notes")
    kept = Message.objects.create(
        conversation=chat, position=0, role="user", content="the keeper's lamp", status="complete"
    )

    migrator()

    user = get_user_model().objects.get(username="dora")
    hits = selectors.search_hits(user=user, text="lighthouse or lamp", limit=10)
    assert sorted(str(hit.message_id) for hit in hits) == sorted(["None", str(kept.id)])


def test_migrating_back_removes_the_indexes(migrator):
    migrator(BEFORE)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM information_schema.columns WHERE column_name = 'search_vector'")
        else:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '%\\_fts%' ESCAPE '\\'")
        assert cursor.fetchone()[0] == 0
