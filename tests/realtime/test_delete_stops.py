"""Deleting a conversation stops its generation on whichever process runs it.

The attack run started 5 replies, deleted their conversations and repeated: 15 upstream streams
kept running for a user capped at 5. `services.conversation_delete` stops each streaming reply
through its worker's channel once the delete commits; this checks it across processes, through
the generating process's own count of running replies (/metrics).
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation
from tests.servers import running_servers
from tests.wsclient import LiveSocket, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ENDLESS = "!sim tokens=100000 tps=50 ttft=0"


@pytest.fixture
def servers(transactional_db, redis_url):
    with running_servers(2, REDIS_URL=redis_url) as running:
        yield running


async def running_replies(server) -> float:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        text = (await client.get("/metrics")).text
    return float(re.search(r"^parley_running_replies (\S+)$", text, re.MULTILINE).group(1))


async def test_deleting_on_one_process_stops_the_reply_running_on_another(servers):
    generating, deleting = servers
    owner = await sync_to_async(get_user_model().objects.create_user)("gus", password="pw-gus-1234567")
    cookie = await login_cookie(owner)
    chats = [await sync_to_async(Conversation.objects.create)(owner=owner, title=f"c{n}") for n in range(3)]
    for chat in chats:
        socket = await LiveSocket.open(generating, chat.id, cookie)
        await socket.receive()
        await socket.send(type="message.send", content=ENDLESS, request_id=f"r-{chat.id}")
        await socket.receive_until("message.delta")
    assert await running_replies(generating) == 3

    async with httpx.AsyncClient(base_url=deleting.http_url, cookies={"sessionid": cookie}) as client:
        await client.get("/")  # sets the csrftoken cookie
        headers = {"X-CSRFToken": client.cookies["csrftoken"], "Referer": deleting.http_url}
        for chat in chats:
            assert (await client.delete(f"/api/conversations/{chat.id}/", headers=headers)).status_code == 204

    async with asyncio.timeout(20):  # each stop travels to the generating process through Redis
        while await running_replies(generating) != 0:  # noqa: ASYNC110 (another process's state, read over HTTP)
            await asyncio.sleep(0.1)
