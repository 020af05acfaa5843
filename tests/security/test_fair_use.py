"""One user cannot starve the others: syncs, sockets and frames are budgeted per socket and per user.

The attack run: twenty sockets sending 20 `sync` a second each re-sent a 4 MB snapshot every time
and held the server at 99% CPU; one user opened 2,000 sockets; the per-socket frame rate let N
sockets send N times as much. Budgets are shared by all processes through Redis
(conversations/realtime/fairness.py).
"""

from __future__ import annotations

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation
from tests.servers import running_servers
from tests.wsclient import LiveSocket, login_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def frozen_ledger(worker):
    """The worker's fair-use ledger on a clock that stands still, so no window ends mid-test."""
    worker.ledger.clock = worker.ledger.local.clock = lambda: 1_000_000.0
    return worker.ledger


async def new_chat(owner) -> Conversation:
    return await sync_to_async(Conversation.objects.create)(owner=owner, title="fair")


async def probe(socket, request_id: str) -> dict:
    """A frame answered at once (nothing is generating), to learn what was sent before it."""
    await socket.send(type="generation.stop", request_id=request_id)
    return await socket.receive()


async def test_syncs_inside_the_interval_are_folded_into_one_snapshot(connect, alice, settings, worker):
    settings.PARLEY_SYNC_INTERVAL = 3600
    _, socket = await connect(alice, (await new_chat(alice)).id)
    await socket.receive()
    for _ in range(5):
        await socket.send(type="sync")
    assert (await socket.receive())["type"] == "conversation.snapshot"
    answer = await probe(socket, "p1")
    assert (answer["type"], answer["request_id"]) == ("error", "p1")  # the four later syncs sent nothing yet


async def test_snapshots_are_budgeted_per_user_across_sockets(connect, alice, settings, frozen_ledger):
    settings.PARLEY_SYNC_INTERVAL = 0
    settings.PARLEY_SNAPSHOTS_PER_MINUTE = 4
    chat = await new_chat(alice)
    sockets = []
    for _ in range(2):  # each connect's snapshot counts: 2 of 4
        _, socket = await connect(alice, chat.id)
        assert (await socket.receive())["type"] == "conversation.snapshot"
        sockets.append(socket)
    for socket in sockets:  # 4 of 4
        await socket.send(type="sync")
        assert (await socket.receive())["type"] == "conversation.snapshot"
    await sockets[0].send(type="sync", request_id="one-too-many")
    refused = await sockets[0].receive()
    assert (refused["type"], refused["code"], refused["request_id"]) == ("error", "rate_limited", "one-too-many")
    _, closing = await connect(alice, chat.id)  # a reconnect storm is refused too, with words
    frame = await closing.receive()
    assert (frame["type"], frame["code"]) == ("error", "limit_reached")
    assert await closing.close_code() == 4429


async def test_sockets_are_capped_per_user(connect, alice, bob, settings, worker):
    settings.PARLEY_MAX_SOCKETS_PER_USER = 2
    chat = await new_chat(alice)
    first = (await connect(alice, chat.id))[1]
    await first.receive()
    await (await connect(alice, chat.id))[1].receive()
    _, refused = await connect(alice, chat.id)
    frame = await refused.receive()
    assert (frame["code"], "2 connections" in frame["detail"]) == ("limit_reached", True)
    assert await refused.close_code() == 4429
    await (await connect(bob, (await new_chat(bob)).id))[1].receive()  # another user is not affected
    await first.close()
    _, again = await connect(alice, chat.id)  # a closed socket frees its place
    assert (await again.receive())["type"] == "conversation.snapshot"


async def test_frames_are_budgeted_per_user_across_sockets(connect, alice, settings, frozen_ledger):
    settings.PARLEY_WS_RATE = 100
    settings.PARLEY_WS_USER_RATE = 3
    chat = await new_chat(alice)
    sockets = [(await connect(alice, chat.id))[1] for _ in range(2)]
    for socket in sockets:
        await socket.receive()
    answers = [await probe(sockets[n % 2], f"f{n}") for n in range(4)]
    assert [answer["code"] for answer in answers] == ["not_generating"] * 3 + ["rate_limited"]
    assert answers[-1]["request_id"] == "f3"


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_the_socket_cap_holds_across_processes(redis_url):
    with running_servers(2, REDIS_URL=redis_url, PARLEY_MAX_SOCKETS_PER_USER="2") as servers:
        owner = await sync_to_async(get_user_model().objects.create_user)("hal", password="pw-hal-1234567")
        chat = await new_chat(owner)
        cookie = await login_cookie(owner)
        for server in servers:
            await (await LiveSocket.open(server, chat.id, cookie)).receive()
        third = await LiveSocket.open(servers[0], chat.id, cookie)
        assert (await third.receive())["code"] == "limit_reached"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await third.receive()
        assert closed.value.rcvd.code == 4429
