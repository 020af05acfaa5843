"""Redis restarting mid-stream: the reply still completes and is saved, and nothing hangs."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation
from tests.servers import RedisProcess, ServerProcess, live_env
from tests.wsclient import LiveSocket, ReplyView, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TOKENS = 300


@pytest.fixture
def redis_server(tmp_path):
    server = RedisProcess(tmp_path).start()
    yield server
    server.stop()


async def test_reply_survives_a_redis_restart(transactional_db, redis_server):
    owner = await sync_to_async(get_user_model().objects.create_user)("erin", password="pw-erin-12345")
    chat = await sync_to_async(Conversation.objects.create)(owner=owner, title="Redis blink")
    server = ServerProcess(live_env(REDIS_URL=redis_server.url, PARLEY_CHECKPOINT_INTERVAL="0.5")).start()
    try:
        cookie = await login_cookie(owner)
        socket = await LiveSocket.open(server, chat.id, cookie)
        await socket.receive()
        await socket.send(type="message.send", content=f"!sim tokens={TOKENS} tps=80 ttft=0", request_id="x1")
        await socket.receive_until("message.delta")
        redis_server.stop()
        await asyncio.sleep(1.0)
        redis_server.start()

        reply = await wait_until_finished(chat)
        assert reply.status == "complete"
        assert reply.completion_tokens == TOKENS

        await old_socket_settles(socket)
        view = ReplyView()
        fresh = await LiveSocket.open(server, chat.id, cookie)
        view.apply(await fresh.receive())
        assert view.messages[str(reply.id)]["content"] == reply.content
    finally:
        server.stop()


async def wait_until_finished(chat, timeout: float = 30.0):
    async with asyncio.timeout(timeout):
        while True:
            reply = await sync_to_async(lambda: chat.messages.filter(role="assistant").first())()
            if reply.status != "streaming":
                return reply
            await asyncio.sleep(0.2)


async def old_socket_settles(socket: LiveSocket) -> None:
    """The socket that lived through the restart either completes or closes: it never hangs."""
    with contextlib.suppress(websockets.ConnectionClosed):
        await socket.receive_until("message.completed", timeout=15)
