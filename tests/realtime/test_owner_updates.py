"""A conversation's changes reach every socket of its owner that asked (`?watch=all`), once, and nobody else's.

Over the real ASGI app, channel layer (Redis with REDIS_URL) and JSON API. "Nothing else arrived" is
shown without waiting: a later change is made, and the next frame a socket reads must be that one.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from conversations.models import Conversation

pytestmark = pytest.mark.django_db(transaction=True)

WATCH_ALL = "watch=all"


@pytest.fixture
def api(alice, bob):
    """PATCH or DELETE a conversation through the JSON API as its owner, from the async test."""

    @sync_to_async
    def call(method: str, conversation: Conversation, body: dict | None = None):
        client = Client()
        client.force_login(conversation.owner)
        url = f"/api/conversations/{conversation.id}/"
        response = getattr(client, method)(url, json.dumps(body or {}), content_type="application/json")
        assert response.status_code in (200, 204), response.content
        return response

    return call


@pytest.fixture
def second(alice, make_conversation) -> Conversation:
    return make_conversation(alice, title="Second")


async def opened(connect, user, conversation, query: str = WATCH_ALL):
    accepted, socket = await connect(user, conversation.id, query=query)
    assert accepted
    assert (await socket.receive())["type"] == "conversation.snapshot"
    return socket


async def test_archiving_reaches_a_socket_on_another_conversation(connect, api, alice, conversation, second):
    socket = await opened(connect, alice, second)

    await api("patch", conversation, {"archived": True})

    frame = await socket.receive()
    assert frame["type"] == "conversation.updated"
    assert frame["conversation"]["id"] == str(conversation.id)
    assert frame["conversation"]["archived"] is True and frame["conversation"]["pinned"] is False


async def test_pinning_reaches_every_socket_of_the_owner(connect, api, alice, conversation, second):
    sockets = [await opened(connect, alice, second) for _ in range(2)]

    await api("patch", conversation, {"pinned": True})

    for socket in sockets:
        frame = await socket.receive()
        assert (frame["type"], frame["conversation"]["id"]) == ("conversation.updated", str(conversation.id))
        assert frame["conversation"]["pinned"] is True


async def test_the_socket_on_the_changed_conversation_hears_it_once(connect, api, alice, conversation):
    socket = await opened(connect, alice, conversation)

    await api("patch", conversation, {"pinned": True})
    await api("patch", conversation, {"title": "Then renamed"})

    first, then = await socket.receive(), await socket.receive()
    assert (first["conversation"]["pinned"], first["conversation"]["title"]) == (True, "Alice's secrets")
    assert then["conversation"]["title"] == "Then renamed"  # not the owner's copy of the first


async def test_a_socket_that_did_not_ask_hears_only_its_own_conversation(connect, api, alice, conversation, second):
    socket = await opened(connect, alice, second, query="")

    await api("patch", conversation, {"archived": True})
    await api("patch", second, {"title": "Mine"})

    frame = await socket.receive()
    assert (frame["conversation"]["id"], frame["conversation"]["title"]) == (str(second.id), "Mine")


async def test_another_users_changes_never_reach_my_sockets(connect, api, bob, conversation, make_conversation):
    bobs = await sync_to_async(make_conversation)(bob, title="Bob's")
    socket = await opened(connect, bob, bobs)

    await api("patch", conversation, {"archived": True, "title": "Alice's, archived"})
    await api("patch", bobs, {"pinned": True})

    frame = await socket.receive()
    assert frame["conversation"]["id"] == str(bobs.id) and frame["conversation"]["pinned"] is True


async def test_deleting_reaches_the_owners_other_sockets(connect, api, alice, conversation, second):
    socket = await opened(connect, alice, second)

    await api("delete", conversation)

    assert await socket.receive() == {"type": "conversation.deleted", "conversation_id": str(conversation.id)}


async def test_an_archived_conversation_can_still_be_sent_to_and_stays_archived(connect, api, alice, conversation):
    await api("patch", conversation, {"archived": True})
    socket = await opened(connect, alice, conversation)

    await socket.send(type="message.send", content="!sim tokens=5 tps=600 ttft=0", request_id="r1")
    frames = await socket.receive_until("message.completed", timeout=20)

    assert frames[-1]["message"]["status"] == "complete"
    saved = await sync_to_async(Conversation.objects.get)(id=conversation.id)
    assert saved.archived is True
