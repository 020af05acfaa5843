"""Sockets that close while broadcasts reach them leave no Redis subscription behind.

Found by bench/soak: a socket closed in the same moment a frame for it arrived kept its channel
(and sometimes its groups) subscribed for the life of the process. A private redis-server counts
the subscriptions exactly.
"""

from __future__ import annotations

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from autobahn.exception import Disconnected
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from redis import asyncio as aioredis

from chatsite import compat
from chatsite.asgi import application
from conversations.consumers import ConversationConsumer
from conversations.generation import shut_down
from conversations.models import Conversation
from conversations.realtime.broadcast import conversation_group
from tests.servers import RedisProcess, ServerProcess, live_env
from tests.sockets import ORIGIN, session_cookie
from tests.wsclient import LiveSocket, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROUNDS = 20


@pytest.fixture
def redis_server(tmp_path):
    server = RedisProcess(tmp_path).start()
    yield server
    server.stop()


def subscriptions(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        channels = client.pubsub_channels()
        held = sum(count for _, count in client.pubsub_numsub(*channels)) if channels else 0
        return held + client.pubsub_numpat()
    finally:
        client.close()


async def settled(url: str, baseline: int, timeout: float = 15.0) -> int:
    """The subscription count once it is back to `baseline`, or whatever it is at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        count = await asyncio.to_thread(subscriptions, url)
        if count <= baseline or asyncio.get_running_loop().time() > deadline:
            return count
        await asyncio.sleep(0.2)


async def test_sockets_closing_mid_stream_leave_no_subscription(transactional_db, redis_server):
    owner = await sync_to_async(get_user_model().objects.create_user)("sam", password="pw-sam-12345")
    chat = await sync_to_async(Conversation.objects.create)(owner=owner, title="Comings and goings")
    server = ServerProcess(live_env(REDIS_URL=redis_server.url)).start()
    try:
        cookie = await login_cookie(owner)
        baseline = await asyncio.to_thread(subscriptions, redis_server.url)  # the worker's own channel
        sender = await LiveSocket.open(server, chat.id, cookie)
        await sender.receive()
        for round_ in range(ROUNDS):
            watcher = await LiveSocket.open(server, chat.id, cookie)
            await watcher.receive()
            await sender.send(type="message.send", content="!sim tokens=30 tps=1000 ttft=0", request_id=f"r{round_}")
            await watcher.receive_until("message.delta")
            await watcher.close()  # while deltas are still on their way to it
            await sender.receive_until("message.completed")
        await sender.close()
        assert await settled(redis_server.url, baseline) == baseline
    finally:
        server.stop()


async def test_a_frame_for_a_socket_being_closed_is_dropped_not_raised():
    """Raised out of a handler, daphne's error ended the consumer before its disconnect unsubscribed it."""
    consumer = ConversationConsumer()

    async def closing(message):
        raise Disconnected("Attempt to send on a closed protocol")  # what daphne's autobahn raises

    consumer.base_send = closing
    await consumer.send(text_data='{"type": "message.delta"}')


async def test_a_socket_whose_handler_failed_leaves_its_groups(transactional_db, alice, conversation, redis_url):
    """A handler that raises ends the consumer without its disconnect: it must still unsubscribe."""
    cookie = await sync_to_async(session_cookie)(alice)
    headers = [(b"origin", ORIGIN.encode()), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    communicator = WebsocketCommunicator(application, f"/ws/conversations/{conversation.id}/", headers)
    try:
        assert (await communicator.connect(timeout=5))[0]
        await communicator.receive_from(timeout=5)  # the snapshot
        layer = get_channel_layer()
        group = compat.group_channel_namer(layer)(conversation_group(conversation.id))
        assert await subscribers(redis_url, group) == 1
        await layer.group_send(conversation_group(conversation.id), {"type": "chat.delta"})  # no id: it raises
        with pytest.raises(KeyError):
            await communicator.wait(timeout=5)
        assert await subscribers(redis_url, group) == 0
    finally:
        await shut_down()


async def subscribers(url: str, channel: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
    finally:
        await client.aclose()
    return count
