"""A process killed while its final save waits out a database outage: another process finishes
its replies with all the text they streamed, and the finished one as `complete`."""

from __future__ import annotations

import asyncio

import pytest
from redis import asyncio as aioredis

from conversations.realtime import recovery
from conversations.replies import INTERRUPTED_ERROR
from tests.faults.watch import Watcher, echoed, saved_reply

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FIRST_TOKEN = 1.0  # seconds before the finishing reply's first token: time enough to stop PostgreSQL


async def handed_off(redis: aioredis.Redis, reply_id: str, timeout: float = 30.0) -> None:
    """Until the reply's final save has failed once, and its process handed it to the recovery path."""
    async with asyncio.timeout(timeout):
        while True:
            if await redis.exists(recovery.handoff_key(reply_id)):
                return
            await asyncio.sleep(0.05)


async def test_a_process_killed_during_the_final_save_loses_no_text(database, private_redis, servers, seed):
    a, b = servers
    cookie, (finishing, midway) = seed(2)
    finish_send, finish_text = echoed(20, tps=100, ttft=FIRST_TOKEN)
    long_send, long_text = echoed(600, tps=40, ttft=0)  # still streaming when its process dies
    senders = [await Watcher.open(a, chat, cookie) for chat in (finishing, midway)]
    ends, cut = [await Watcher.open(b, chat, cookie) for chat in (finishing, midway)]
    redis = aioredis.Redis.from_url(private_redis.url)
    try:
        await senders[1].socket.send(type="message.send", content=long_send, request_id="fault")
        await cut.until(lambda: len(cut.text()) > 0)
        await senders[0].socket.send(type="message.send", content=finish_send, request_id="fault")
        await ends.until(lambda: ends.reply_id() is not None)
        await asyncio.to_thread(database.stop)
        assert ends.text() == "", "PostgreSQL took longer to stop than the reply took to start; raise FIRST_TOKEN"
        await ends.until(lambda: ends.text() == finish_text)
        await handed_off(redis, ends.reply_id())

        a.kill()  # during the final save's retries
        await asyncio.to_thread(database.start)

        for watcher in (ends, cut):
            await watcher.until(lambda w=watcher: w.reply_id() in w.completed, timeout=60)
        finished, interrupted = ends.completed[ends.reply_id()], cut.completed[cut.reply_id()]
        assert (finished["status"], finished["content"], finished["error"]) == ("complete", finish_text, None)
        assert await asyncio.to_thread(saved_reply, database.url, ends.reply_id()) == ("complete", finish_text, "")
        # The killed reply really was cut short: it says so, and keeps every character it streamed.
        streamed = cut.shown_before[cut.reply_id()]
        assert 0 < len(streamed) < len(long_text) and long_text.startswith(streamed)
        assert (interrupted["status"], interrupted["content"]) == ("interrupted", streamed)
        saved = await asyncio.to_thread(saved_reply, database.url, cut.reply_id())
        assert saved == ("interrupted", streamed, INTERRUPTED_ERROR)
    finally:
        await redis.aclose()
        for watcher in (*senders, ends, cut):
            await watcher.close()
