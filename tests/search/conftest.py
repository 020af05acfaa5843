"""Fixtures for the search tests: messages placed anywhere in a conversation's tree."""

from __future__ import annotations

import pytest

from conversations.models import Message
from tests.migrating import migrator  # noqa: F401  (a fixture, for test_migration.py)


@pytest.fixture
def add_message(db):
    """Add a message under `parent` (None: a new root), at the conversation's next position."""

    def add(conversation, role: str, content: str, parent: Message | None = None) -> Message:
        position = conversation.messages.count()
        return Message.objects.create(
            conversation=conversation, parent=parent, position=position, role=role, content=content
        )

    return add
