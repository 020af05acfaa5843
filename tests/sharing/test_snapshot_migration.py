"""The migration to message-anchored snapshots keeps what each existing link showed, on both databases."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db

BEFORE = [("conversations", "0017_message_search")]
AFTER = [("conversations", "0018_share_snapshot_message")]


def test_each_snapshot_is_anchored_at_the_last_message_it_showed(migrator):
    old = migrator(BEFORE)
    User, ShareLink = old.get_model("auth", "User"), old.get_model("conversations", "ShareLink")
    Conversation, Message = old.get_model("conversations", "Conversation"), old.get_model("conversations", "Message")
    chat = Conversation.objects.create(owner=User.objects.create(username="dora"), title="branched")
    question = Message.objects.create(conversation=chat, position=0, role="user", content="q")
    first = Message.objects.create(conversation=chat, parent=question, position=1, role="assistant", content="a")
    follow_up = Message.objects.create(conversation=chat, parent=first, position=2, role="user", content="q2")
    Message.objects.create(conversation=chat, parent=follow_up, position=3, role="assistant", content="a2")
    second = Message.objects.create(conversation=chat, parent=question, position=4, role="assistant", content="b")
    chat.active_leaf = second  # a regeneration after the first two links were taken, now shown
    chat.save()
    links = {
        name: ShareLink.objects.create(conversation=chat, mode="snapshot", upto_position=upto).id
        for name, upto in (("after the first answer", 1), ("after everything", 4), ("empty", -1))
    }
    live = ShareLink.objects.create(conversation=chat, mode="live", upto_position=None).id

    new = migrator(AFTER)
    ShareLink = new.get_model("conversations", "ShareLink")
    anchors = {name: ShareLink.objects.get(id=link_id).upto_message_id for name, link_id in links.items()}
    # What each showed before: the branch shown (q, b) cut at its position.
    assert anchors == {"after the first answer": question.id, "after everything": second.id, "empty": None}
    assert ShareLink.objects.get(id=live).upto_message_id is None


def test_the_migration_reverses_to_positions(migrator):
    new = migrator(AFTER)
    User, ShareLink = new.get_model("auth", "User"), new.get_model("conversations", "ShareLink")
    Conversation, Message = new.get_model("conversations", "Conversation"), new.get_model("conversations", "Message")
    chat = Conversation.objects.create(owner=User.objects.create(username="dora"), title="chain")
    anchor = Message.objects.create(conversation=chat, position=7, role="user", content="q")
    anchored = ShareLink.objects.create(conversation=chat, mode="snapshot", upto_message=anchor).id
    empty = ShareLink.objects.create(conversation=chat, mode="snapshot").id

    old = migrator(BEFORE)
    ShareLink = old.get_model("conversations", "ShareLink")
    assert ShareLink.objects.get(id=anchored).upto_position == 7
    assert ShareLink.objects.get(id=empty).upto_position == -1
