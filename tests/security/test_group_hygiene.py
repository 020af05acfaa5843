"""A killed process leaves no group membership behind in Redis.

With the pub/sub layer a group membership is a SUBSCRIBE on the process's own Redis connection,
so when the process dies, even by SIGKILL with no cleanup, Redis drops every one of its
subscriptions as the connection closes. Nothing waits for a `group_expiry`.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async

from tests.servers import RedisProcess, ServerProcess, live_env
from tests.wsclient import LiveSocket, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def private_redis(tmp_path):
    server = RedisProcess(tmp_path).start()
    yield server
    server.stop()


async def channels(client) -> set[str]:
    return {name.decode() for name in await client.pubsub_channels("parley*")}


async def subscribers(client, channel: str) -> int:
    return dict(await client.pubsub_numsub(channel)).get(channel.encode(), 0)


async def test_sigkill_drops_every_subscription_of_the_dead_process(
    transactional_db, private_redis, conversation, alice
):
    env = live_env(REDIS_URL=private_redis.url)
    victim, survivor = ServerProcess(env).start(), None
    client = aioredis.Redis.from_url(private_redis.url)
    group = f"parley__group__conv.{conversation.id}"
    try:
        cookie = await login_cookie(alice)
        doomed = [await LiveSocket.open(victim, conversation.id, cookie) for _ in range(3)]
        for socket in doomed:
            await socket.receive()
        victims_channels = await channels(client)
        assert group in victims_channels and await subscribers(client, group) == 1

        survivor = await sync_to_async(ServerProcess(env).start)()
        watcher = await LiveSocket.open(survivor, conversation.id, cookie)
        await watcher.receive()
        assert await subscribers(client, group) == 2

        victim.kill()
        async with asyncio.timeout(10):
            while await subscribers(client, group) != 1:  # noqa: ASYNC110  (polling Redis)
                await asyncio.sleep(0.05)
        left = await channels(client)
        own = {name for name in victims_channels if "__group__" not in name}  # groups are shared with the survivor
        assert own, "the victim had channels of its own"
        assert own & left == set()

        await watcher.send(type="message.send", content="!sim tokens=10 tps=0 ttft=0", request_id="after")
        final = (await watcher.receive_until("message.completed"))[-1]["message"]
        assert final["status"] == "complete"
        survivor.kill()
        async with asyncio.timeout(10):
            while await channels(client):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        victim.stop()
        if survivor is not None:
            survivor.stop()
        await client.aclose()
