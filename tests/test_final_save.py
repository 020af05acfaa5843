"""A finished reply is saved whatever fails when: the final save outlasts a database outage, and a
shutdown during one hands the reply to the recovery path, which saves it as it really ended.

The outage is injected with Django's `connection.execute_wrapper` on the thread that runs the
worker's database calls: every statement fails as it does when PostgreSQL is unreachable.
tests/faults/ stops a real PostgreSQL for the same cases.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import OperationalError, connection
from redis import asyncio as aioredis

from conversations import generation
from conversations.mcp import toolbox
from conversations.models import Conversation, Message
from conversations.realtime import housekeeping, recovery
from conversations.replies import FinalState

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

SHORT = "!sim tokens=30 tps=300 ttft=0.2"


class DatabaseDown:
    """An execute wrapper failing every statement while `down`; `failed` is set on each failure."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.down = False
        self.loop = loop
        self.failed = asyncio.Event()

    def __call__(self, execute, sql, params, many, context):
        if self.down:
            self.loop.call_soon_threadsafe(self.failed.set)
            raise OperationalError("server closed the connection unexpectedly (injected)")
        return execute(sql, params, many, context)

    async def another_failure(self) -> None:
        self.failed.clear()
        await asyncio.wait_for(self.failed.wait(), 10)


@pytest.fixture
async def outage():
    injected, stack = DatabaseDown(asyncio.get_running_loop()), contextlib.ExitStack()
    await database_sync_to_async(lambda: stack.enter_context(connection.execute_wrapper(injected)))()
    yield injected
    injected.down = False
    await database_sync_to_async(stack.close)()


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def handed_off(redis, reply_id, timeout: float = 10.0) -> FinalState:
    """Wait for the worker to leave the reply's final state in Redis: its first save has failed."""
    async with asyncio.timeout(timeout):
        while True:
            raw = await redis.get(recovery.handoff_key(reply_id))
            if raw:
                return FinalState.from_json(raw)
            await asyncio.sleep(0.02)


@sync_to_async
def saved(reply_id) -> Message:
    return Message.objects.get(id=reply_id)


async def start(owner) -> tuple[str, asyncio.Task]:
    toolbox.reset()
    await toolbox.mcp_tools()  # read the MCP servers now: a stale cache would read them mid-outage
    conversation = await sync_to_async(Conversation.objects.create)(owner=owner, title="Outage")
    started = await generation.start(user=owner, conversation_id=conversation.id, content=SHORT, request_id="r1")
    reply_id = str(started.reply.id)
    return reply_id, (await generation.get_worker()).running[reply_id].task


async def test_the_final_save_is_retried_until_the_database_answers(worker, alice, outage, redis):
    reply_id, task = await start(alice)
    outage.down = True
    final = await handed_off(redis, reply_id)
    for _ in range(2):  # still retrying, never given up
        await outage.another_failure()
    assert not task.done() and reply_id in worker.running
    outage.down = False
    await asyncio.wait_for(task, 10)
    row = await saved(reply_id)
    assert (row.status, row.content, row.seq) == ("complete", final.content, final.seq)
    assert len(final.content) > 0 and row.completion_tokens == 30
    assert await redis.exists(recovery.handoff_key(reply_id)) == 0


async def test_a_shutdown_during_an_outage_hands_the_reply_to_the_next_sweep(worker, alice, outage, redis):
    reply_id, task = await start(alice)
    outage.down = True
    final = await handed_off(redis, reply_id)
    await generation.shut_down()  # this process goes away while the database is still down
    assert task.done()
    outage.down = False
    assert (await saved(reply_id)).status == "streaming"

    [recovered] = await housekeeping.sweep(redis=redis, stale_after=0)  # as another process would
    assert (recovered.status, recovered.content, recovered.error) == ("complete", final.content, "")
    assert recovered.completion_tokens == 30
