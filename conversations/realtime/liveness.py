"""Which worker processes are alive, as Redis sees it: a key per process that expires unless refreshed.

A reply's heartbeat in the database goes stale whenever the database is down, for every process
at once, so it cannot tell a dead process from a live one that could not write. Each worker also
refreshes `parley:worker:<channel>` in Redis every checkpoint interval, with PARLEY_STALE_AFTER as
its TTL, whatever the database does. The orphan sweep takes a reply only when both its heartbeat is
stale and its process's key has expired; when Redis cannot be asked, it takes nothing.

Asking the process over its control channel instead would need a reply over pub/sub, which is at
most once: a lost answer would read as a dead process, and every sweep would wait out a timeout
per process. A key with a TTL is one MGET for all of them, and only a process that stopped
running (or a Redis that lost its data) lets one expire.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from redis import asyncio as aioredis

PREFIX = "parley:worker:"


def worker_key(channel: str) -> str:
    return f"{PREFIX}{channel}"


async def beat(redis: aioredis.Redis, channel: str, ttl: float) -> None:
    """Prove this process alive for the next `ttl` seconds."""
    await redis.set(worker_key(channel), 1, ex=max(1, math.ceil(ttl)))


async def forget(redis: aioredis.Redis, channel: str) -> None:
    """A process going away stops vouching for itself, so its leftovers are recovered sooner."""
    await redis.delete(worker_key(channel))


async def alive(redis: aioredis.Redis, channels: Iterable[str]) -> set[str]:
    """The given worker channels whose process proved itself alive within its TTL."""
    channels = sorted(set(channels))
    if not channels:
        return set()
    found = await redis.mget([worker_key(channel) for channel in channels])
    return {channel for channel, value in zip(channels, found, strict=True) if value is not None}
