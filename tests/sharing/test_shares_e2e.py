"""Share links across real processes: a viewer reconnecting mid-stream gets the exact text, a
revocation closes the viewers on both processes, and the viewer cap counts every process's viewers."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from redis import asyncio as aioredis

from conversations.models import Conversation, ShareLink
from conversations.realtime import fairness
from conversations.realtime.fairness import sockets_key
from conversations.sharing import services as sharing
from conversations.sharing.consumer import viewers_key
from tests.servers import running_servers
from tests.wsclient import LiveSocket, ReplyView, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180), pytest.mark.usefixtures("close_thread_connections")]

STREAM = "!sim tokens=400 tps=200 ttft=0"


@pytest.fixture
def owner(transactional_db):
    return get_user_model().objects.create_user("erin", password="pw-erin-123")


@pytest.fixture
def link(owner) -> ShareLink:
    chat = Conversation.objects.create(owner=owner, title="Shared live")
    return sharing.share_create(conversation=chat, mode="live", login_required=False, show_owner=False)


async def viewer(server, link) -> LiveSocket:
    connection = await websockets.connect(
        f"{server.ws_url}/ws/shares/{link.id}/", additional_headers={"Origin": server.http_url}, open_timeout=10
    )
    return LiveSocket(connection)


async def test_a_viewer_reconnecting_mid_stream_on_the_other_process_gets_the_exact_text(two_servers, owner, link):
    writer = await LiveSocket.open(two_servers[0], link.conversation_id, await login_cookie(owner))
    await writer.receive()
    first = await viewer(two_servers[1], link)
    view = ReplyView()
    view.apply(await first.receive())
    await writer.send(type="message.send", content=STREAM, request_id="w1")
    for frame in await first.receive_until("message.delta"):
        view.apply(frame)
    await first.close()
    second = await viewer(two_servers[0], link)
    for frame in [await second.receive(), *await second.receive_until("message.completed")]:
        view.apply(frame)
    final = await sync_to_async(lambda: link.conversation.messages.get(role="assistant"))()
    assert not view.needs_sync and view.messages[str(final.id)]["content"] == final.content
    assert final.status == "complete"


async def test_revoking_closes_viewers_on_both_processes_with_1008(two_servers, owner, link):
    viewers = [await viewer(server, link) for server in two_servers]
    for socket in viewers:
        await socket.receive()
    await sync_to_async(sharing.share_revoke)(link=link)
    for socket in viewers:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.receive(timeout=10)
        assert closed.value.rcvd.code == 1008


async def until(condition, timeout: float = 10.0) -> None:
    """Wait for `condition` to hold (it is another process's doing), failing after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if condition():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the other process never got there")
        await asyncio.sleep(0.02)


def seats_taken(redis_url: str, link) -> int:
    return redis.Redis.from_url(redis_url).zcard(sockets_key(viewers_key(str(link.id))))


async def refused(server, link) -> bool:
    try:
        await viewer(server, link)
    except websockets.InvalidStatus as refusal:
        return refusal.response.status_code == 403
    return False


async def test_the_viewer_cap_counts_the_viewers_of_every_process(transactional_db, redis_url, link):
    with running_servers(2, REDIS_URL=redis_url, PARLEY_SHARE_MAX_VIEWERS="2") as servers:
        viewers = [await viewer(server, link) for server in servers]
        for socket in viewers:
            await socket.receive()
        assert [await refused(server, link) for server in servers] == [True, True]
        await viewers[0].close()
        await until(lambda: seats_taken(redis_url, link) == 1)  # the process gives the seat back on close
        third = await viewer(servers[1], link)
        assert (await third.receive())["type"] == "conversation.snapshot"
        servers[1].kill()  # its two viewers' seats stay leased: it cannot give them back
        assert await refused(servers[0], link)


async def test_the_seats_of_a_killed_process_lapse_with_their_lease(redis_url):
    key, start = viewers_key(str(uuid.uuid4())), time.time()
    killed = fairness.Ledger(aioredis.Redis.from_url(redis_url), clock=lambda: start)
    assert await killed.claim_socket(key, "viewer-of-the-killed-process", 1)  # and never renewed or released
    clock = [start + fairness.SOCKET_LEASE - 1]
    survivor = fairness.Ledger(aioredis.Redis.from_url(redis_url), clock=lambda: clock[0])
    assert not await survivor.claim_socket(key, "too-early", 1)
    clock[0] = start + fairness.SOCKET_LEASE + 1
    assert await survivor.claim_socket(key, "after-the-lease", 1)
