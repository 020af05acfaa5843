"""Migration 0003 gives every existing message its parts, losslessly: one text part holding its content."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]

BEFORE = [("conversations", "0002_regeneration")]
AFTER = [("conversations", "0003_message_parts")]


def test_existing_messages_become_one_text_part_and_keep_their_content(alice):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    conversation = old.get_model("conversations", "Conversation").objects.create(owner_id=alice.pk, title="Old")
    Message = old.get_model("conversations", "Message")
    texts = ["Hello", "", "A *markdown* reply\n\nwith two paragraphs"]
    for position, text in enumerate(texts):
        Message.objects.create(conversation=conversation, position=position, role="user", content=text)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("conversations", "Message")
    rows = list(new.objects.filter(conversation_id=conversation.id).order_by("position"))
    assert [(m.content, m.parts) for m in rows] == [
        ("Hello", [{"type": "text", "text": "Hello"}]),
        ("", []),
        (texts[2], [{"type": "text", "text": texts[2]}]),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("conversations"))
