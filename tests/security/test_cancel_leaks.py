"""Stopping generations at any moment, even twice, leaks no upstream connection and no task.

Fifty generations share a pool of ten connections, so stops land before a task starts, while it
waits for the pool, mid-stream and during the final save. Afterwards every reply has ended (not
left `streaming` for the sweep), the shared httpx pool is idle, and no generation task is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

import httpx
import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from conversations import generation
from conversations.generation import Worker, get_worker, shut_down
from conversations.llm import registry
from conversations.llm.client import get_http_client
from conversations.models import Conversation, Message

GENERATIONS = 50
SLOW = "!sim tokens=400 tps=100 ttft=0.1"


@pytest.fixture
def pool_of_ten(transactional_db, settings):
    settings.LLM_MAX_CONNECTIONS = 10
    settings.LLM_MAX_KEEPALIVE = 10
    settings.PARLEY_MAX_GENERATIONS_PER_USER = GENERATIONS
    settings.PARLEY_STALE_AFTER = 600  # the sweep must not be what ends a reply here


@database_sync_to_async
def conversations_of(count: int) -> tuple:
    user = get_user_model().objects.create_user("mallory", password="pw-mallory-1")
    return user, Conversation.objects.bulk_create(Conversation(owner=user, title=f"chat {i}") for i in range(count))


@database_sync_to_async
def statuses() -> dict[str, int]:
    return {status: Message.objects.filter(role="assistant", status=status).count() for status in Message.Status}


def reply_tasks() -> list[asyncio.Task]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("parley-reply-")]


async def start(user, chat, number: int) -> str:
    started = await generation.start(user=user, conversation_id=chat.id, content=SLOW, request_id=f"r{number}")
    return str(started.reply.id)


async def stop_later(worker: Worker, reply_id: str, delay: float, twice: bool) -> None:
    await asyncio.sleep(delay)
    worker.stop_local(reply_id)
    if twice:
        await asyncio.sleep(random.choice([0, 0, 0.001, 0.01, 0.05]))
        worker.stop_local(reply_id)


async def start_and_stop(when: Callable[[int], float | None]) -> None:
    """Start the generations, stop each `when(number)` seconds later (None: at once, before it runs)."""
    user, chats = await conversations_of(GENERATIONS)
    worker = await get_worker()
    stops = []
    for number, chat in enumerate(chats):
        reply_id = await start(user, chat, number)
        delay = when(number)
        if delay is None:
            worker.stop_local(reply_id)
        else:
            stops.append(stop_later(worker, reply_id, delay, twice=number % 3 == 0))
    await asyncio.gather(*stops)
    async with asyncio.timeout(10):
        while reply_tasks() or (await statuses())[Message.Status.STREAMING]:  # noqa: ASYNC110  (polling the database)
            await asyncio.sleep(0.05)
    assert (await statuses())[Message.Status.INTERRUPTED] == 0
    assert worker.running == {}


async def assert_pool_is_idle() -> None:
    """All ten connections of the pool are free: ten streams hold one each at once, none waits."""
    config = generation.provider_config()
    client = get_http_client(config.limits, config.network)
    url = await registry.get_provider("simulator", config).base_url() + "/chat/completions"
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": SLOW}]}
    async with contextlib.AsyncExitStack() as held:
        for _ in range(10):
            stream = client.stream("POST", url, json=body, timeout=httpx.Timeout(5.0, pool=1.0))
            assert (await held.enter_async_context(stream)).status_code == 200


async def test_stops_mid_stream_even_twice_leave_no_connection_or_task(pool_of_ten):
    rng = random.Random(44)
    try:
        await start_and_stop(lambda number: None if number % 10 == 0 else rng.uniform(0.3, 2.0))
        await assert_pool_is_idle()
    finally:
        await shut_down()


async def test_stops_while_waiting_for_the_pool_leave_no_connection(pool_of_ten):
    rng = random.Random(45)
    try:
        await start_and_stop(lambda number: rng.choice([0, 0.001, 0.01, 0.05]))
        await assert_pool_is_idle()
    finally:
        await shut_down()
