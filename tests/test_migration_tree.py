"""The tree migration is lossless: each existing conversation becomes one chain, on both databases."""

from __future__ import annotations

import pytest

from tests.migrating import migrate_to

pytestmark = pytest.mark.db

BEFORE = [("conversations", "0011_storage_usage")]
AFTER = [("conversations", "0012_message_tree")]


@pytest.fixture
def migrator(transactional_db):
    yield migrate_to
    migrate_to()


def test_each_conversation_becomes_one_chain_with_its_last_message_shown(migrator):
    old = migrator(BEFORE)
    User = old.get_model("auth", "User")
    Conversation, Message = old.get_model("conversations", "Conversation"), old.get_model("conversations", "Message")
    owner = User.objects.create(username="dora")
    chats = {}
    for title, count in (("long", 5), ("single", 1), ("empty", 0)):
        chat = Conversation.objects.create(owner=owner, title=title)
        for position in range(count):  # positions with gaps, as regenerations left them
            Message.objects.create(
                conversation=chat, position=position * 3, role="user" if position % 2 == 0 else "assistant",
                content=f"{title} {position}", status="complete",
            )  # fmt: skip
        chats[title] = chat.id
    before = sorted(Message.objects.values_list("id", "conversation_id", "position", "role", "content"))

    new = migrator(AFTER)
    Conversation, Message = new.get_model("conversations", "Conversation"), new.get_model("conversations", "Message")
    assert sorted(Message.objects.values_list("id", "conversation_id", "position", "role", "content")) == before
    long = list(Message.objects.filter(conversation_id=chats["long"]).order_by("position"))
    assert [m.parent_id for m in long] == [None, *(m.id for m in long[:-1])]
    assert Conversation.objects.get(id=chats["long"]).active_leaf_id == long[-1].id
    single = Message.objects.get(conversation_id=chats["single"])
    assert single.parent_id is None and Conversation.objects.get(id=chats["single"]).active_leaf_id == single.id
    assert Conversation.objects.get(id=chats["empty"]).active_leaf_id is None
