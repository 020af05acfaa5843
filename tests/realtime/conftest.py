"""The conversation the consumer tests use: alice's (alice and connect come from tests/sockets.py)."""

from __future__ import annotations

import pytest

from conversations.models import Conversation


@pytest.fixture
def conversation(alice):
    return Conversation.objects.create(owner=alice, title="Test chat")


@pytest.fixture(autouse=True)
def thread_connections_closed(close_thread_connections):
    """Every test here closes asgiref's worker-thread connection (see tests/sockets.py)."""
