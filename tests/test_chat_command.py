"""`manage.py chat`: the generation service from a terminal, printing the reply as it streams."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_reply_is_printed_as_it_streams_and_saved(alice):
    out = io.StringIO()
    call_command("chat", alice.username, "!sim tokens=12 tps=400 ttft=0", stdout=out)
    reply = Message.objects.get(role="assistant")
    conversation = Conversation.objects.get(owner=alice)
    assert reply.status == Message.Status.COMPLETE and reply.content
    assert out.getvalue() == f"{reply.content}\n[complete] conversation {conversation.id}\n"


def test_a_stranger_or_missing_conversation_is_a_clear_error(alice, bob):
    theirs = Conversation.objects.create(owner=bob)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("chat", alice.username, "hello", conversation=str(theirs.id))
    with pytest.raises(CommandError, match="No user named"):
        call_command("chat", "nobody", "hello")
    assert not Message.objects.exists()
