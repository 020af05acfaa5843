"""Redis down: every send is still answered, and the sender's socket still gets its whole reply.

Before, a send while Redis was down got no frame at all (the reply was generated and saved
unseen), and a new socket got HTTP 500. The reply runs in the process that received the send, so
that process hands its frames to its own sockets directly when a publish fails
(conversations/realtime/local.py), and tells them live sync is degraded until Redis is back.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation, Message
from tests.servers import RedisProcess, ServerProcess, live_env
from tests.wsclient import LiveSocket, ReplyView, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def redis_server(tmp_path):
    server = RedisProcess(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
async def chat(transactional_db):
    owner = await sync_to_async(get_user_model().objects.create_user)("dora", password="pw-dora-12345")
    return await sync_to_async(Conversation.objects.create)(owner=owner, title="Redis down")


@pytest.fixture
def server(redis_server, transactional_db):
    process = ServerProcess(live_env(REDIS_URL=redis_server.url, PARLEY_CHECKPOINT_INTERVAL="0.5")).start()
    yield process
    process.stop()


async def frames_until_completed(socket: LiveSocket, view: ReplyView, timeout: float = 30.0) -> list[dict]:
    frames = await socket.receive_until("message.completed", timeout=timeout)
    for frame in frames:
        view.apply(frame)
    return frames


def of_type(frames: list[dict], kind: str) -> list[dict]:
    return [frame for frame in frames if frame["type"] == kind]


@sync_to_async
def saved_reply(chat) -> Message:
    return chat.messages.get(role="assistant")


async def test_a_send_while_redis_is_down_is_answered_on_the_senders_socket(chat, server, redis_server):
    cookie = await login_cookie(await sync_to_async(lambda: chat.owner)())
    socket = await LiveSocket.open(server, chat.id, cookie)
    view = ReplyView()
    view.apply(await socket.receive())
    redis_server.stop()

    await socket.send(type="message.send", content="!sim tokens=40 tps=200 ttft=0", request_id="down-1")
    frames = await frames_until_completed(socket, view)

    created = of_type(frames, "message.created")
    assert [(frame["message"]["role"], frame["request_id"]) for frame in created] == [
        ("user", "down-1"),
        ("assistant", "down-1"),
    ]
    status = of_type(frames, "connection.status")[0]
    assert status["live_sync"] == "degraded" and "other tabs" in status["detail"]
    reply = await saved_reply(chat)
    completed = frames[-1]["message"]
    assert completed["status"] == reply.status == "complete"
    assert view.messages[str(reply.id)]["content"] == completed["content"] == reply.content
    assert reply.completion_tokens == 40


async def test_a_socket_opened_while_redis_is_down_is_served_then_reconnected(chat, server, redis_server):
    cookie = await login_cookie(await sync_to_async(lambda: chat.owner)())
    first = await LiveSocket.open(server, chat.id, cookie)
    await first.receive()
    redis_server.stop()

    fresh = await LiveSocket.open(server, chat.id, cookie)  # HTTP 500 before
    assert (await fresh.receive())["type"] == "conversation.snapshot"
    assert (await fresh.receive())["live_sync"] == "degraded"
    await fresh.send(type="message.send", content="!sim tokens=5 tps=0 ttft=0", request_id="fresh-1")
    view = ReplyView()
    frames = await frames_until_completed(fresh, view)
    assert frames[-1]["message"]["status"] == "complete"
    assert of_type(frames, "message.created")[0]["request_id"] == "fresh-1"

    redis_server.start()
    with pytest.raises(websockets.ConnectionClosed) as closed:  # served without Redis: told to reconnect
        async with asyncio.timeout(30):
            while True:
                await fresh.receive(timeout=30)
    assert closed.value.rcvd.code == 1001
    statuses = []
    async with asyncio.timeout(30):  # the other socket heard the outage, then hears it end, with a snapshot
        while not statuses or statuses[-1] != "ok":
            statuses.append((await first.receive_until("connection.status"))[-1]["live_sync"])
    assert statuses == ["degraded", "ok"]
    assert (await first.receive())["type"] == "conversation.snapshot"


async def test_redis_stopping_mid_stream_still_completes_the_reply_on_the_senders_socket(chat, server, redis_server):
    cookie = await login_cookie(await sync_to_async(lambda: chat.owner)())
    socket = await LiveSocket.open(server, chat.id, cookie)
    view = ReplyView()
    view.apply(await socket.receive())
    await socket.send(type="message.send", content="!sim tokens=300 tps=100 ttft=0", request_id="mid-1")
    for frame in await socket.receive_until("message.delta"):
        view.apply(frame)
    redis_server.stop()

    frames = await frames_until_completed(socket, view)
    assert of_type(frames, "connection.status")[0]["live_sync"] == "degraded"
    reply = await saved_reply(chat)
    assert frames[-1]["message"]["status"] == reply.status == "complete"
    assert view.messages[str(reply.id)]["content"] == reply.content
    assert reply.completion_tokens == 300
