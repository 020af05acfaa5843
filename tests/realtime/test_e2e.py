"""End to end: real daphne processes sharing one Redis, a real WebSocket client, the simulator."""

from __future__ import annotations

import asyncio
import random

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation, Message
from tests.servers import ServerProcess, live_env
from tests.wsclient import LiveSocket, ReplyView, login_cookie, sockets_past_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

STREAM = "!sim tokens=150 tps=150 ttft=0"


@pytest.fixture
def server_env(redis_url):
    return {"REDIS_URL": redis_url, "PARLEY_CHECKPOINT_INTERVAL": "0.5", "PARLEY_STALE_AFTER": "3"}


@pytest.fixture
def owner(transactional_db):
    return get_user_model().objects.create_user("carol", password="pw-carol-123")


@pytest.fixture
def chat(owner):
    return Conversation.objects.create(owner=owner, title="E2E")


@sync_to_async
def reply_row(chat) -> Message:
    return chat.messages.filter(role="assistant").order_by("-position").first()


async def test_a_socket_on_another_process_sees_the_whole_reply(two_servers, owner, chat):
    on_a, on_b = await sockets_past_snapshot(two_servers, owner, chat)
    await on_a.send(type="message.send", content=STREAM, request_id="x1")
    views = [ReplyView(), ReplyView()]
    for socket, view in zip((on_a, on_b), views, strict=True):
        for frame in await socket.receive_until("message.completed"):
            view.apply(frame)
    final = await reply_row(chat)
    for view in views:
        assert not view.needs_sync
        assert view.messages[str(final.id)]["content"] == final.content


async def test_stop_sent_to_one_process_stops_the_other(two_servers, owner, chat):
    on_a, on_b = await sockets_past_snapshot(two_servers, owner, chat)
    await on_a.send(type="message.send", content="!sim tokens=2000 tps=50 ttft=0", request_id="x1")
    await on_b.receive_until("message.delta")
    await on_b.send(type="generation.stop")
    final = (await on_b.receive_until("message.completed"))[-1]["message"]
    assert final["status"] == "cancelled" and final["content"]
    assert (await reply_row(chat)).status == "cancelled"


async def test_random_reconnects_on_either_process_never_lose_or_double_text(two_servers, owner, chat):
    cookie = await login_cookie(owner)
    rng = random.Random(7)
    for round_number in range(12):
        starter = await LiveSocket.open(two_servers[0], chat.id, cookie)
        await starter.receive()
        # 0.8 s of reply, so the reader below always joins while it streams (the sleep is at most 0.4 s)
        await starter.send(type="message.send", content="!sim tokens=240 tps=300 ttft=0", request_id=f"r{round_number}")
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        await starter.close()
        view = ReplyView()
        reader = await LiveSocket.open(rng.choice(two_servers), chat.id, cookie)
        for frame in await reader.receive_until("message.completed"):
            view.apply(frame)
        await reader.close()
        final = await reply_row(chat)
        assert not view.needs_sync and not view.repeated_created
        assert view.messages[str(final.id)]["content"] == final.content


async def test_killed_process_leaves_an_interrupted_reply_with_its_text(two_servers, owner, chat):
    on_a, on_b = await sockets_past_snapshot(two_servers, owner, chat)
    await on_a.send(type="message.send", content="!sim tokens=3000 tps=40 ttft=0", request_id="x1")
    await asyncio.sleep(1.5)  # past a checkpoint
    two_servers[0].kill()
    final = (await on_b.receive_until("message.completed", timeout=30))[-1]["message"]
    assert final["status"] == "interrupted" and final["content"] and final["error"]
    saved = await reply_row(chat)
    assert saved.status == "interrupted" and saved.content == final["content"]


@pytest.mark.parametrize(
    ("directive", "keeps_text"),
    [("fail=500", False), ("reset_after=10", True), ("stall_after=10", True)],
)
async def test_upstream_faults_end_as_failed_with_partial_text(
    transactional_db, server_env, owner, chat, directive, keeps_text
):
    server = ServerProcess(live_env(**server_env, LLM_IDLE_TIMEOUT="1", LLM_MAX_ATTEMPTS="1")).start()
    try:
        cookie = await login_cookie(owner)
        socket = await LiveSocket.open(server, chat.id, cookie)
        await socket.receive()
        await socket.send(type="message.send", content=f"!sim tokens=100 tps=200 ttft=0 {directive}", request_id="x1")
        final = (await socket.receive_until("message.completed"))[-1]["message"]
        assert final["status"] == "failed" and final["error"]
        assert bool(final["content"]) is keeps_text
        assert (await reply_row(chat)).content == final["content"]
    finally:
        server.stop()


async def test_a_graceful_shutdown_saves_running_replies_as_interrupted_at_once(two_servers, owner, chat):
    on_a, on_b = await sockets_past_snapshot(two_servers, owner, chat)
    await on_a.send(type="message.send", content="!sim tokens=3000 tps=40 ttft=0", request_id="x1")
    await on_b.receive_until("message.delta")
    await asyncio.to_thread(two_servers[0].stop)  # SIGTERM, as a deploy would
    frames = await on_b.receive_until("message.completed", timeout=5)  # well before PARLEY_STALE_AFTER
    final = frames[-1]["message"]
    assert final["status"] == "interrupted" and final["error"] and final["content"]
    saved = await reply_row(chat)
    assert (saved.status, saved.content) == ("interrupted", final["content"])


async def test_a_restarted_process_recovers_orphans_without_any_socket(transactional_db, server_env, owner, chat):
    server = ServerProcess(live_env(**server_env)).start()
    cookie = await login_cookie(owner)
    socket = await LiveSocket.open(server, chat.id, cookie)
    await socket.receive()
    await socket.send(type="message.send", content="!sim tokens=3000 tps=40 ttft=0", request_id="x1")
    await socket.receive_until("message.delta")
    await asyncio.sleep(1.0)  # past a checkpoint
    server.kill()
    restarted = ServerProcess(live_env(**server_env)).start()  # nobody connects to it
    try:
        for _ in range(100):  # up to 20 s: PARLEY_STALE_AFTER is 3 s here
            reply = await reply_row(chat)
            if reply.status != "streaming":
                break
            await asyncio.sleep(0.2)
        assert reply.status == "interrupted" and reply.content and reply.error
    finally:
        restarted.stop()
