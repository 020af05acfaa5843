"""The fair-use ledger's counts in the real Redis: exact under a burst, on one connection, and
through a Redis that forgot its scripts (conversations/realtime/fairness.py)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis import asyncio as aioredis

from conversations.realtime.fairness import Ledger

BURST = 200


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def connections_received(redis) -> int:
    return (await redis.info("stats"))["total_connections_received"]


async def test_a_burst_of_takes_is_counted_exactly_on_few_connections(redis):
    ledger = Ledger(redis, clock=lambda: 1_000_000.0)
    user = f"burst-{uuid.uuid4()}"
    await ledger.take(user, "frames", 1.0, limit=1)  # the pool's first connection, and the script loaded
    before = await connections_received(redis)

    allowed = await asyncio.gather(*(ledger.take(user, "frames", 1.0, limit=150) for _ in range(BURST)))

    assert allowed.count(True) == 149  # the first take above counted too
    assert await connections_received(redis) - before <= 2  # a command each used to open ~BURST


async def test_socket_claims_in_a_burst_hold_the_cap_exactly(redis):
    ledger = Ledger(redis)
    user = f"claims-{uuid.uuid4()}"

    claimed = await asyncio.gather(*(ledger.claim_socket(user, f"socket-{i}", cap=50) for i in range(120)))

    assert claimed.count(True) == 50
    assert await redis.zcard(f"parley:fair:sockets:{user}") == 50


async def test_takes_still_count_after_redis_forgets_its_scripts(redis):
    """What a Redis restart does to the scripts: every call of the next round trip is refused, and
    each is run again, once."""
    ledger = Ledger(redis, clock=lambda: 2_000_000.0)
    user = f"flushed-{uuid.uuid4()}"
    await ledger.take(user, "frames", 1.0, limit=10)
    await redis.script_flush()

    allowed = await asyncio.gather(*(ledger.take(user, "frames", 1.0, limit=10) for _ in range(12)))

    assert allowed.count(True) == 9
    assert int(await redis.get(f"parley:fair:frames:{user}:2000000")) == 13
