"""Concurrent sends by one owner on two processes: the per-user cap and `busy` hold exactly.

Each process saves the sends it receives together in batches (generation/worker.py), so a batch on
one process races a batch on the other for the same owner's row; no process may admit more than
the cap leaves, nor two replies in one conversation, nor a second reply for a retried request_id.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation, Message
from tests.servers import running_servers
from tests.wsclient import LiveSocket, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CAP = 3
CHATS = 8
SLOW = "!sim tokens=400 tps=50 ttft=0"  # still streaming when the test counts


@pytest.fixture
def two_servers(transactional_db, redis_url):
    with running_servers(2, REDIS_URL=redis_url, PARLEY_MAX_GENERATIONS_PER_USER=str(CAP)) as servers:
        yield servers


@sync_to_async
def owner_with_chats() -> tuple[object, list[Conversation]]:
    owner = get_user_model().objects.create_user("dana", password="pw-dana-1234567")
    return owner, [Conversation.objects.create(owner=owner, title=f"chat {n}") for n in range(CHATS)]


async def answer_to(socket: LiveSocket, request_id: str) -> dict:
    """The first frame for this request: its `message.created` or its `error`."""
    while True:
        frame = await socket.receive(timeout=30)
        if frame.get("request_id") == request_id and frame["type"] in ("message.created", "error"):
            return frame


@sync_to_async
def saved(owner) -> tuple[int, int, list]:
    mine = Message.objects.filter(conversation__owner=owner)
    streaming = mine.filter(status=Message.Status.STREAMING)
    per_chat = list(streaming.values_list("conversation", flat=True))
    return streaming.count(), mine.filter(role=Message.Role.USER).count(), per_chat


async def test_one_owner_sending_on_two_processes_gets_exactly_the_cap(two_servers):
    owner, chats = await owner_with_chats()
    cookie = await login_cookie(owner)
    sockets = {}  # (chat number, server number) -> socket; every chat has one socket on each process
    for n, chat in enumerate(chats):
        for s, server in enumerate(two_servers):
            sockets[n, s] = await LiveSocket.open(server, chat.id, cookie)
            await sockets[n, s].receive()  # its snapshot

    async def send(key) -> dict:
        request_id = f"send-{key[0]}-{key[1]}"
        await sockets[key].send(type="message.send", content=SLOW, request_id=request_id)
        return await answer_to(sockets[key], request_id)

    answers = dict(zip(sockets, await asyncio.gather(*(send(key) for key in sockets)), strict=True))
    started = [key for key, frame in answers.items() if frame["type"] == "message.created"]
    refused = {frame["code"] for frame in answers.values() if frame["type"] == "error"}
    assert len(started) == CAP
    assert refused == {"busy", "limit_reached"} or refused == {"limit_reached"}
    assert len({chat for chat, _ in started}) == CAP  # never two replies in one conversation
    streaming, user_messages, per_chat = await saved(owner)
    assert (streaming, user_messages) == (CAP, CAP)
    assert sorted(per_chat) == sorted(chats[chat].id for chat, _ in started)

    # A started request retried on the other process (a new socket: the old one saw the first
    # answer's broadcast) is answered with the messages it saved, not new ones.
    chat, server = started[0]
    request_id = f"send-{chat}-{server}"
    again = await LiveSocket.open(two_servers[1 - server], chats[chat].id, cookie)
    await again.receive()
    await again.send(type="message.send", content=SLOW, request_id=request_id)
    retried = await answer_to(again, request_id)
    assert retried["type"] == "message.created" and retried["message"]["id"] == answers[chat, server]["message"]["id"]
    assert (await saved(owner))[:2] == (CAP, CAP)
    await again.close()

    for chat, server in started:
        await sockets[chat, server].send(type="generation.stop")
    for socket in sockets.values():
        await socket.close()
