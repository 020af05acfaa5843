"""Per-user storage and creation limits: clear 429s over the API, `quota_exceeded` on the socket.

The attack run stored 115 MB of text a minute (2,000 conversations in 15 s, each with a 19 KB
system prompt). Each limit is a setting; each refusal saves nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from django.utils import timezone

from conversations import replies, services, storage_limits
from conversations.models import Conversation, ConversationCreation, Message, StorageUsage

pytestmark = pytest.mark.db


def create(client, **fields):
    return client.post("/api/conversations/", json.dumps(fields), content_type="application/json")


def test_conversations_per_hour_are_capped(alice_client, alice, settings):
    settings.PARLEY_MAX_CONVERSATIONS_PER_HOUR = 3
    assert [create(alice_client, title=f"c{n}").status_code for n in range(3)] == [201] * 3
    refused = create(alice_client, title="one more")
    assert refused.status_code == 429
    assert refused.json()["code"] == "quota_exceeded" and "3 chats in the last hour" in refused.json()["error"]
    assert Conversation.objects.filter(owner=alice).count() == 3


def test_stored_bytes_are_capped_and_freed_by_edits_and_deletes(alice_client, alice, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 1000
    first = create(alice_client, title="t", system_prompt="é" * 450).json()  # 1 + 900 bytes
    refused = create(alice_client, title="u", system_prompt="x" * 99)
    assert (refused.status_code, refused.json()["code"]) == (429, "quota_exceeded")
    assert Conversation.objects.filter(owner=alice).count() == 1

    path = f"/api/conversations/{first['id']}/"
    grow = alice_client.patch(path, json.dumps({"system_prompt": "é" * 500}), content_type="application/json")
    assert grow.status_code == 429 and Conversation.objects.get(id=first["id"]).system_prompt == "é" * 450
    shrink = alice_client.patch(path, json.dumps({"system_prompt": "short"}), content_type="application/json")
    assert shrink.status_code == 200
    assert create(alice_client, title="u", system_prompt="x" * 99).status_code == 201

    for conversation in Conversation.objects.filter(owner=alice):
        assert alice_client.delete(f"/api/conversations/{conversation.id}/").status_code == 204
    assert StorageUsage.objects.get(user=alice).stored_bytes == 0


def test_text_stored_before_the_count_existed_is_measured(alice_client, alice, make_conversation, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 1000
    make_conversation(alice, title="old", system_prompt="p" * 500, messages=[("user", "m" * 400)])
    assert create(alice_client, title="new", system_prompt="x" * 200).status_code == 429
    assert create(alice_client, title="new", system_prompt="x" * 50).status_code == 201
    assert StorageUsage.objects.get(user=alice).stored_bytes == (3 + 500 + 400) + (3 + 50)


@pytest.mark.django_db(transaction=True)
async def test_a_message_over_the_quota_is_refused_over_the_api(alice, worker, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 100
    conversation = await Conversation.objects.acreate(owner=alice, title="q")
    api = AsyncClient()
    await api.aforce_login(alice)
    body = {"content": "y" * 200, "request_id": "big"}
    response = await api.post(f"/api/conversations/{conversation.id}/messages/", body, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (429, "quota_exceeded")
    assert not await conversation.messages.aexists()


@pytest.mark.django_db(transaction=True)
async def test_a_message_over_the_quota_is_refused_on_the_socket(connect, alice, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 100
    conversation = await sync_to_async(Conversation.objects.create)(owner=alice, title="q")
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content="z" * 200, request_id="too-big")
    error = await socket.receive()
    assert (error["type"], error["code"], error["request_id"]) == ("error", "quota_exceeded", "too-big")
    assert not await sync_to_async(conversation.messages.exists)()
    await socket.send(type="message.send", content="!sim tokens=3 tps=0 ttft=0", request_id="small")
    assert (await socket.receive_until("message.completed"))[-1]["message"]["status"] == "complete"


def test_deleting_chats_does_not_give_back_their_creations(alice_client, alice, settings):
    """A create-delete loop used to start any number of chats an hour: starts are counted, not rows."""
    settings.PARLEY_MAX_CONVERSATIONS_PER_HOUR = 3
    for n in range(3):
        created = create(alice_client, title=f"gone {n}")
        assert created.status_code == 201
        assert alice_client.delete(f"/api/conversations/{created.json()['id']}/").status_code == 204
    refused = create(alice_client, title="one more")
    assert (refused.status_code, refused.json()["code"]) == (429, "quota_exceeded")
    assert not Conversation.objects.filter(owner=alice).exists()


def test_creations_older_than_an_hour_no_longer_count(alice_client, alice, settings):
    settings.PARLEY_MAX_CONVERSATIONS_PER_HOUR = 1
    assert create(alice_client, title="first").status_code == 201
    assert create(alice_client, title="second").status_code == 429
    an_hour_ago = timezone.now() - timedelta(hours=1, seconds=1)
    ConversationCreation.objects.filter(user=alice).update(created_at=an_hour_ago)
    assert create(alice_client, title="second").status_code == 201
    assert ConversationCreation.objects.filter(user=alice).count() == 1  # the old start was pruned


@pytest.mark.django_db(transaction=True)
async def test_a_reply_counts_toward_the_quota_runs_to_its_end_and_the_next_start_is_refused(connect, alice, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 1000
    conversation = await sync_to_async(Conversation.objects.create)(owner=alice, title="q")
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content="!sim tokens=400 tps=0 ttft=0", request_id="long")
    completed = (await socket.receive_until("message.completed"))[-1]["message"]
    assert completed["status"] == "complete"  # never cut off, though it took its owner past the limit
    assert len(completed["content"].encode()) > 1000
    usage = await StorageUsage.objects.aget(user=alice)
    assert usage.stored_bytes == await sync_to_async(storage_limits.measured_bytes)(alice.pk)
    assert usage.stored_bytes > 1000

    for frame in ({"type": "message.send", "content": "hi"}, {"type": "message.regenerate"}):
        await socket.send(**frame, request_id=f"after-{frame['type']}")
        error = await socket.receive_until("error")
        assert (error[-1]["code"], error[-1]["request_id"]) == ("quota_exceeded", f"after-{frame['type']}")
        assert "most text allowed" in error[-1]["detail"]
    assert await conversation.messages.acount() == 2  # the refusals saved nothing

    await sync_to_async(services.conversation_delete)(conversation=conversation)
    assert (await StorageUsage.objects.aget(user=alice)).stored_bytes == 0


def test_a_replys_tool_parts_count_and_a_continued_reply_counts_once(alice, make_conversation):
    conversation = make_conversation(alice, title="t", messages=[("user", "q")])
    question = conversation.messages.get()
    reply = Message.objects.create(
        conversation=conversation, parent=question, position=1, role="assistant", status="streaming", model="sim"
    )
    Conversation.objects.filter(id=conversation.id).update(active_leaf=reply)
    reply = Message.objects.select_related("conversation").get(id=reply.id)
    call = {"type": "tool_call", "id": "c1", "name": "clock", "arguments": {"zone": "UTC"}}
    result = {"type": "tool_result", "call_id": "c1", "name": "clock", "content": "12:00", "is_error": False}
    replies.reply_finish(reply=reply, content="Before it is", seq=2, status="interrupted", parts=[call, result])
    tools = len(json.dumps([call, result], separators=(",", ":")).encode())
    usage = StorageUsage.objects.get(user=alice)
    assert usage.stored_bytes == storage_limits.measured_bytes(alice.pk) == len("t" + "q" + "Before it is") + tools

    started = replies.reply_continue(user=alice, conversation_id=conversation.id, request_id="more", worker="w")
    assert StorageUsage.objects.get(user=alice).stored_bytes == len("tq")  # streaming again: counted at its end
    replies.reply_finish(
        reply=started.reply, content="Before it is noon", seq=3, status="complete", parts=[call, result]
    )
    usage.refresh_from_db()
    assert usage.stored_bytes == storage_limits.measured_bytes(alice.pk) == len("tq" + "Before it is noon") + tools

    services.conversation_delete(conversation=conversation)
    usage.refresh_from_db()
    assert usage.stored_bytes == 0
