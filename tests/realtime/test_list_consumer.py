"""The conversation list's socket (`/ws/conversations/`): every change to its user's chats, nobody
else's, only to a logged-in user, within the per-user socket cap, closed when the login ends."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from conversations import revocation
from conversations.models import Conversation
from tests.sockets import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

LIST = None  # the `connect` fixture's conversation id for the list's socket


@sync_to_async
def patch(conversation: Conversation, body: dict) -> None:
    client = Client()
    client.force_login(conversation.owner)
    url = f"/api/conversations/{conversation.id}/"
    assert client.patch(url, json.dumps(body), content_type="application/json").status_code == 200


@sync_to_async
def delete(conversation: Conversation) -> None:
    client = Client()
    client.force_login(conversation.owner)
    assert client.delete(f"/api/conversations/{conversation.id}/").status_code == 204


async def test_an_anonymous_user_is_refused_before_accept(connect):
    accepted, _ = await connect(None, LIST)

    assert not accepted


async def test_every_change_to_the_users_chats_arrives(connect, alice, conversation, make_conversation):
    other = await sync_to_async(make_conversation)(alice, title="Other")
    accepted, socket = await connect(alice, LIST)
    assert accepted

    await patch(conversation, {"pinned": True})
    await patch(other, {"archived": True, "title": "Filed away"})
    await delete(conversation)

    pinned, archived, deleted = [await socket.receive() for _ in range(3)]
    assert (pinned["type"], pinned["conversation"]["id"], pinned["conversation"]["pinned"]) == (
        "conversation.updated",
        str(conversation.id),
        True,
    )
    assert (archived["conversation"]["title"], archived["conversation"]["archived"]) == ("Filed away", True)
    assert deleted == {"type": "conversation.deleted", "conversation_id": str(conversation.id)}


async def test_another_users_changes_never_arrive(connect, bob, conversation, make_conversation):
    bobs = await sync_to_async(make_conversation)(bob, title="Bob's")
    _, socket = await connect(bob, LIST)

    await patch(conversation, {"archived": True})
    await patch(bobs, {"pinned": True})

    frame = await socket.receive()
    assert frame["conversation"]["id"] == str(bobs.id)


async def test_frames_from_the_client_are_ignored(connect, alice, conversation):
    _, socket = await connect(alice, LIST)

    await socket.send(type="message.send", content="hi", request_id="r1")
    await patch(conversation, {"pinned": True})

    assert (await socket.receive())["type"] == "conversation.updated"  # no answer came before it
    assert await sync_to_async(conversation.messages.count)() == 0


async def test_it_counts_toward_the_users_sockets(connect, alice, conversation, settings):
    settings.PARLEY_MAX_SOCKETS_PER_USER = 1
    assert (await connect(alice, conversation.id))[0]

    accepted, socket = await connect(alice, LIST)

    assert accepted  # to say why, then close
    assert (await socket.receive())["code"] == "limit_reached"
    assert await socket.close_code() == 4429


async def test_logging_out_closes_it_with_1008(connect, alice):
    cookie = await sync_to_async(session_cookie)(alice)
    _, socket = await connect(alice, LIST, cookie=cookie)

    await sync_to_async(revocation.announce)(alice.pk, session=cookie)

    assert await socket.close_code() == 1008
