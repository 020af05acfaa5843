"""The data model: defaults, the ordering rules and the constraints the reply lifecycle relies on."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from conversations.models import Conversation, Message

pytestmark = pytest.mark.db


def test_conversation_defaults(alice):
    conversation = Conversation.objects.create(owner=alice)

    assert isinstance(conversation.id, uuid.UUID)
    assert conversation.title == "New chat" == str(conversation)
    assert conversation.model is None and conversation.temperature is None and conversation.system_prompt == ""
    assert conversation.created_at is not None and conversation.updated_at is not None


def test_message_defaults(answered_conversation):
    message = Message.objects.create(
        conversation=answered_conversation, position=9, role=Message.Role.USER, content="hi"
    )

    assert isinstance(message.id, uuid.UUID)
    assert message.status == Message.Status.COMPLETE
    assert message.seq == 0 and message.request_id == "" and message.error == ""
    assert str(message) == "user: hi"


def test_two_messages_cannot_share_a_position(answered_conversation):
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(conversation=answered_conversation, position=0, role="user", content="again")


def test_same_position_in_different_conversations_is_fine(alice, make_conversation):
    first = make_conversation(alice, messages=[("user", "a")])
    second = make_conversation(alice, messages=[("user", "b")])

    assert first.messages.get().position == second.messages.get().position == 0


def test_a_request_id_creates_one_message_per_role(answered_conversation):
    Message.objects.create(conversation=answered_conversation, position=5, role="user", content="x", request_id="r1")
    Message.objects.create(
        conversation=answered_conversation, position=6, role="assistant", content="", request_id="r1"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            conversation=answered_conversation, position=7, role="user", content="x", request_id="r1"
        )


def test_blank_request_ids_do_not_collide(answered_conversation):
    for position in (5, 6):
        Message.objects.create(conversation=answered_conversation, position=position, role="user", content="x")

    assert answered_conversation.messages.filter(request_id="").count() == 4


def test_messages_come_back_in_position_order(alice, make_conversation):
    conversation = make_conversation(alice, messages=[("user", "one"), ("assistant", "two"), ("user", "three")])
    Message.objects.filter(conversation=conversation, position=0).update(position=10)

    assert [m.content for m in Message.objects.filter(conversation=conversation)] == ["two", "three", "one"]


def test_conversations_come_back_most_recently_updated_first(alice, make_conversation):
    older = make_conversation(alice, title="older")
    newer = make_conversation(alice, title="newer")
    older.title = "touched"
    older.save()

    assert list(Conversation.objects.filter(owner=alice)) == [older, newer]


def test_usage_is_none_until_reported(answered_conversation):
    message = answered_conversation.messages.get(role="assistant")
    assert message.usage is None

    message.prompt_tokens, message.completion_tokens = 12, 80
    message.cost_usd, message.usage_estimated = Decimal("0.00004"), True

    assert message.usage == {"prompt_tokens": 12, "completion_tokens": 80, "cost_usd": 0.00004, "estimated": True}


def test_usage_with_one_count_keeps_the_other_as_none(answered_conversation):
    message = answered_conversation.messages.get(role="assistant")
    message.completion_tokens = 4

    assert message.usage == {"prompt_tokens": None, "completion_tokens": 4, "cost_usd": None, "estimated": False}


def test_deleting_a_conversation_deletes_its_messages(answered_conversation):
    answered_conversation.delete()

    assert not Message.objects.exists()


def test_deleting_a_user_deletes_their_conversations(alice, bob, answered_conversation, make_conversation):
    kept = make_conversation(bob)

    alice.delete()

    assert list(Conversation.objects.all()) == [kept]
    assert not Message.objects.exists()
