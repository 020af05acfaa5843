"""Per-user storage and creation limits: clear 429s over the API, `quota_exceeded` on the socket.

The attack run stored 115 MB of text a minute (2,000 conversations in 15 s, each with a 19 KB
system prompt). Each limit is a setting; each refusal saves nothing.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from conversations.models import Conversation, StorageUsage

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
