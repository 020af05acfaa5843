"""Tree operations in the database: send, edit, regenerate and select, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conversations import replies, selectors, services
from conversations.models import Message

pytestmark = pytest.mark.db


def finish(started: replies.ReplyStart, text: str = "done") -> None:
    replies.reply_finish(reply=started.reply, content=text, seq=1, status="complete")


def shown(conversation) -> list[str]:
    conversation.refresh_from_db()
    return [message.content for message in selectors.message_list(conversation=conversation)]


@pytest.fixture
def ask(alice, answered_conversation):
    def ask(content: str, request_id: str) -> replies.ReplyStart:
        started = replies.reply_start(
            user=alice, conversation_id=answered_conversation.id, content=content, request_id=request_id,
            worker="w",
        )  # fmt: skip
        finish(started, f"answer to {content}")
        return started

    return ask


def edit(alice, conversation, message_id, content, request_id="e1") -> replies.ReplyStart:
    return replies.reply_edit(
        user=alice, conversation_id=conversation.id, message_id=str(message_id), content=content,
        request_id=request_id, worker="w",
    )  # fmt: skip


def regenerate(alice, conversation, message_id=None, request_id="g1") -> replies.ReplyStart:
    return replies.reply_regenerate(
        user=alice, conversation_id=conversation.id, request_id=request_id, worker="w",
        message_id=str(message_id) if message_id else None,
    )  # fmt: skip


def test_a_send_continues_the_branch_shown(ask, answered_conversation):
    started = ask("Second?", "r1")
    first_reply = answered_conversation.messages.get(position=1)
    assert started.user_message.parent_id == first_reply.id and started.reply.parent_id == started.user_message.id
    assert shown(answered_conversation) == ["Where should I eat?", "Try a pastelaria.", "Second?", "answer to Second?"]


def test_editing_a_user_message_adds_a_sibling_and_streams_a_reply_to_it(ask, alice, answered_conversation):
    second = ask("Second?", "r1")
    ask("Third?", "r2")
    started = edit(alice, answered_conversation, second.user_message.id, "Second, better?")

    assert started.user_message.parent_id == second.user_message.parent_id
    assert (started.user_message.sibling_index, started.user_message.sibling_count) == (1, 2)
    assert started.replaces == str(second.user_message.id)
    assert [turn["content"] for turn in started.history] == [
        "Where should I eat?",
        "Try a pastelaria.",
        "Second, better?",
    ]
    assert started.reply.status == Message.Status.STREAMING and started.reply.parent_id == started.user_message.id
    finish(started, "better answer")
    assert shown(answered_conversation) == [
        "Where should I eat?",
        "Try a pastelaria.",
        "Second, better?",
        "better answer",
    ]
    assert answered_conversation.messages.count() == 8  # nothing was deleted


def test_regenerating_a_reply_in_the_middle_branches_there(ask, alice, answered_conversation):
    ask("Second?", "r1")
    first_reply = answered_conversation.messages.get(position=1)
    started = regenerate(alice, answered_conversation, first_reply.id)

    assert started.reply.parent_id == first_reply.parent_id and started.replaces == str(first_reply.id)
    assert [turn["content"] for turn in started.history] == ["Where should I eat?"]
    finish(started, "Try a tasca.")
    assert shown(answered_conversation) == ["Where should I eat?", "Try a tasca."]
    assert answered_conversation.messages.count() == 5


def test_selecting_a_branch_shows_it_down_to_its_newest_leaf(ask, alice, answered_conversation):
    second = ask("Second?", "r1")
    ask("Third?", "r2")
    finish(edit(alice, answered_conversation, second.user_message.id, "Other second?"), "other")
    services.branch_select(user=alice, conversation_id=answered_conversation.id, message_id=str(second.user_message.id))
    assert shown(answered_conversation)[2:] == ["Second?", "answer to Second?", "Third?", "answer to Third?"]
    answered_conversation.refresh_from_db()
    messages = selectors.message_list(conversation=answered_conversation)
    assert [(m.sibling_index, m.sibling_count) for m in messages] == [(0, 1), (0, 1), (0, 2), (0, 1), (0, 1), (0, 1)]


def test_only_messages_of_the_branch_shown_and_of_the_right_role(
    ask, alice, answered_conversation, bob, make_conversation
):
    second = ask("Second?", "r1")
    finish(edit(alice, answered_conversation, second.user_message.id, "Other?"))
    with pytest.raises(replies.ReplyRefused) as off_path:
        edit(alice, answered_conversation, second.user_message.id, "again", request_id="e2")
    assert off_path.value.code == "not_on_active_path"
    with pytest.raises(replies.ReplyRefused) as wrong_role:
        edit(alice, answered_conversation, answered_conversation.messages.get(position=1).id, "x", "e3")
    assert wrong_role.value.code == "invalid_field"
    strangers = make_conversation(bob, messages=[("user", "hi"), ("assistant", "hello")])
    with pytest.raises(replies.ReplyRefused) as foreign:
        regenerate(alice, answered_conversation, strangers.messages.get(position=1).id, request_id="g9")
    assert foreign.value.code == "invalid_field"
    with pytest.raises(replies.ReplyRefused) as not_found:
        services.branch_select(
            user=bob, conversation_id=answered_conversation.id, message_id=str(second.user_message.id)
        )
    assert not_found.value.code == "not_found"


def test_one_reply_streams_per_conversation_whatever_the_branch(alice, answered_conversation):
    user_message = answered_conversation.messages.get(position=0)
    streaming = edit(alice, answered_conversation, user_message.id, "Where should I drink?")
    with pytest.raises(replies.ReplyRefused) as busy:
        regenerate(alice, answered_conversation, answered_conversation.messages.get(position=1).id)
    assert busy.value.code == "busy"
    finish(streaming)


def test_a_retried_edit_creates_nothing_new(alice, answered_conversation):
    user_message = answered_conversation.messages.get(position=0)
    first = edit(alice, answered_conversation, user_message.id, "Where should I drink?")
    finish(first)
    again = edit(alice, answered_conversation, user_message.id, "Where should I drink?")
    assert again.duplicate and again.reply.id == first.reply.id and again.user_message.id == first.user_message.id
    assert answered_conversation.messages.count() == 4


def test_editing_the_first_message_starts_a_second_root(alice, answered_conversation):
    user_message = answered_conversation.messages.get(position=0)
    finish(edit(alice, answered_conversation, user_message.id, "Where should I sleep?"))
    answered_conversation.refresh_from_db()
    messages = selectors.message_list(conversation=answered_conversation)
    assert messages[0].parent_id is None and (messages[0].sibling_index, messages[0].sibling_count) == (1, 2)


def test_the_snapshot_names_replies_streaming_on_other_branches(alice, answered_conversation):
    user_message = answered_conversation.messages.get(position=0)
    streaming = edit(alice, answered_conversation, user_message.id, "Where should I drink?")
    services.branch_select(user=alice, conversation_id=answered_conversation.id, message_id=str(user_message.id))
    state = selectors.conversation_with_messages(user=alice, conversation_id=answered_conversation.id)
    assert [m.content for m in state.messages] == ["Where should I eat?", "Try a pastelaria."]
    assert state.elsewhere == {str(streaming.reply.id)}
    finish(streaming)
