"""A snapshot link is frozen at a message of the tree: later sends, edits, regenerations, branch
switches and deletions leave what it shows as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conversations import replies, services
from conversations.models import ShareLink
from conversations.sharing import selectors as shares
from conversations.sharing import services as sharing

pytestmark = pytest.mark.db


def shown(link: ShareLink) -> list[str]:
    link.refresh_from_db()
    link.conversation.refresh_from_db()
    return [message.content for message in shares.share_messages(link=link)]


def snapshot(conversation) -> ShareLink:
    return sharing.share_create(conversation=conversation, mode="snapshot", login_required=False, show_owner=False)


@pytest.fixture
def two_turns(alice, answered_conversation):
    """Where should I eat? / Try a pastelaria. / And dessert? / answer to And dessert?"""
    started = replies.reply_start(
        user=alice, conversation_id=answered_conversation.id, content="And dessert?", request_id="s1", worker="w"
    )
    replies.reply_finish(reply=started.reply, content="answer to And dessert?", seq=1, status="complete")
    return answered_conversation, started


FROZEN = ["Where should I eat?", "Try a pastelaria.", "And dessert?", "answer to And dessert?"]


def test_a_snapshot_freezes_at_the_last_finished_message_of_the_branch_shown(alice, two_turns):
    conversation, started = two_turns
    link = snapshot(conversation)
    assert link.upto_message_id == started.reply.id
    streaming = replies.reply_start(
        user=alice, conversation_id=conversation.id, content="Coffee?", request_id="s2", worker="w"
    )
    assert snapshot(conversation).upto_message_id == streaming.user_message.id  # its reply is still streaming
    assert shown(link) == FROZEN


def test_an_edit_and_a_branch_switch_do_not_shift_a_snapshot(alice, two_turns):
    conversation, started = two_turns
    link = snapshot(conversation)
    edited = replies.reply_edit(
        user=alice, conversation_id=conversation.id, message_id=str(started.user_message.id),
        content="Anything vegan?", request_id="e1", worker="w",
    )  # fmt: skip
    replies.reply_finish(reply=edited.reply, content="Yes.", seq=1, status="complete")
    assert shown(link) == FROZEN  # the edit made the other branch the one shown
    frozen = shares.share_messages(link=link)
    assert frozen[2].sibling_ids == (str(started.user_message.id),)  # the later sibling is not shown either
    services.branch_select(user=alice, conversation_id=conversation.id, message_id=str(edited.reply.id))
    assert shown(link) == FROZEN


def test_a_regeneration_and_later_sends_do_not_shift_a_snapshot(alice, two_turns):
    conversation, _ = two_turns
    link = snapshot(conversation)
    again = replies.reply_regenerate(user=alice, conversation_id=conversation.id, request_id="g1", worker="w")
    replies.reply_finish(reply=again.reply, content="Pastel de nata.", seq=1, status="complete")
    later = replies.reply_start(
        user=alice, conversation_id=conversation.id, content="Thanks", request_id="s3", worker="w"
    )
    replies.reply_finish(reply=later.reply, content="Enjoy.", seq=1, status="complete")
    assert shown(link) == FROZEN


def test_deleting_messages_after_the_snapshot_changes_nothing_and_its_own_leaves_it_empty(alice, two_turns):
    conversation, started = two_turns
    link = snapshot(conversation)
    later = replies.reply_start(
        user=alice, conversation_id=conversation.id, content="Thanks", request_id="s3", worker="w"
    )
    later.user_message.delete()  # with its reply
    assert shown(link) == FROZEN
    started.user_message.delete()  # the snapshot's own path: it never shows something else instead
    assert shown(link) == []


def test_a_snapshot_of_an_empty_conversation_shows_nothing(alice, make_conversation):
    conversation = make_conversation(alice, title="Empty")
    link = snapshot(conversation)
    assert link.upto_message_id is None and shown(link) == []
