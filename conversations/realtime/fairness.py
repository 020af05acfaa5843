"""Fair use across sockets and processes: per-user socket cap, frame budget and snapshot budget.

One user must not starve the others (docs/security.md). The per-socket token bucket alone let N
sockets send N times as much, and a 15-byte `sync` re-sent a whole snapshot. These counts are per
user (the socket claims also count a share link's viewers, keyed by the link: sharing/consumer.py)
and shared by every process through Redis, each in one script call; without Redis, or while
it is down, each process counts alone (fail open to per-process limits, never to none).

The script calls that arrive while one round trip is out go together in the next pipeline
(group_commit.py): a burst of sends costs a few round trips on one connection, not one each on a
connection the pool grows for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

from redis import asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from ..failures import LINK_ERRORS
from ..group_commit import GroupCommit

SOCKET_LEASE = 120  # seconds a socket's claim lives unless its process renews it (a crash frees it then)
RENEW_EVERY = SOCKET_LEASE / 4
SCRIPTS_PER_ROUND_TRIP = 500  # script calls sent in one pipeline at most

# KEYS[1]: the user's socket set (member -> lease end). ARGV: now, lease end, cap, member.
CLAIM_SOCKET = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], 2 * tonumber(ARGV[2] - ARGV[1]))
return 1
"""
# KEYS[1]: a fixed-window counter. ARGV: window seconds, limit. 1 when this one is within the limit.
TAKE = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if used > tonumber(ARGV[2]) then return 0 end
return 1
"""


class TokenBucket:
    """One socket's frames: `rate` per second with bursts of the same size."""

    __slots__ = ("clock", "rate", "stamp", "tokens")

    def __init__(self, rate: float, clock=time.monotonic) -> None:
        self.rate = rate
        self.tokens = rate
        self.clock = clock
        self.stamp = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class LocalCounts:
    """The same counts for this process alone: no Redis configured, or Redis down."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.sockets: dict[Any, set[str]] = {}
        self.windows: dict[str, int] = {}
        self.window_start = -math.inf

    def claim(self, user: Any, member: str, cap: int) -> bool:
        members = self.sockets.setdefault(user, set())
        if len(members) >= cap:
            return False
        members.add(member)
        return True

    def release(self, user: Any, member: str) -> None:
        self.sockets.get(user, set()).discard(member)

    def take(self, key: str, window: float, limit: int) -> bool:
        now = self.clock()
        slot = f"{key}:{int(now // window)}"
        if now - self.window_start > 120:  # old windows are forgotten every couple of minutes
            self.windows, self.window_start = {}, now
        self.windows[slot] = self.windows.get(slot, 0) + 1
        return self.windows[slot] <= limit


class Ledger:
    """Per-user counts for this process's sockets, kept in Redis when there is one."""

    def __init__(self, redis: aioredis.Redis | None, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock
        self.claim_script = redis.register_script(CLAIM_SOCKET) if redis is not None else None
        self.take_script = redis.register_script(TAKE) if redis is not None else None
        self.scripts = GroupCommit(self._run_scripts, SCRIPTS_PER_ROUND_TRIP)
        self.local = LocalCounts(clock)
        self.claims: dict[str, Any] = {}  # member -> user, every socket of this process holding a claim

    async def _run_scripts(self, calls: list[tuple[AsyncScript, list, list]]) -> list:
        """One round trip for every script call that arrived while the previous one was out; a call
        Redis no longer knows the script of (it restarted) is run again alone, loading it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = await pipe.execute(raise_on_error=False)
        for index, ((script, keys, args), result) in enumerate(zip(calls, results, strict=True)):
            if isinstance(result, NoScriptError):
                results[index] = await script(keys=keys, args=args)
        return results

    async def claim_socket(self, user: Any, member: str, cap: int) -> bool:
        """Whether `user` may open one more socket, counted across processes; the claim holds until released."""
        allowed = self.local.claim(user, member, cap)
        if self.redis is not None:
            now = self.clock()
            try:
                lease = [now, now + SOCKET_LEASE, cap, member]
                allowed = bool(await self.scripts.submit((self.claim_script, [sockets_key(user)], lease)))
            except LINK_ERRORS:
                pass  # Redis is down: this process's own count decides
        if allowed:
            self.claims[member] = user
        else:
            self.local.release(user, member)
        return allowed

    async def release_socket(self, user: Any, member: str) -> None:
        self.local.release(user, member)
        if self.claims.pop(member, None) is not None and self.redis is not None:
            with contextlib.suppress(*LINK_ERRORS):  # else the lease runs out on its own
                await self.redis.zrem(sockets_key(user), member)

    async def take(self, user: Any, budget: str, window: float, limit: int) -> bool:
        """Count one use of `budget` (frames, snapshots) for `user` in the current window."""
        allowed = self.local.take(f"{budget}:{user}", window, limit)
        if self.redis is None:
            return allowed
        slot = int(self.clock() // window)
        try:
            key = f"parley:fair:{budget}:{user}:{slot}"
            return bool(await self.scripts.submit((self.take_script, [key], [math.ceil(window) + 1, limit])))
        except LINK_ERRORS:
            return allowed

    async def renew_loop(self) -> None:
        """Keep this process's socket claims alive; a process that dies lets them lapse within SOCKET_LEASE."""
        while True:
            await asyncio.sleep(RENEW_EVERY)
            if self.redis is None or not self.claims:
                continue
            end = self.clock() + SOCKET_LEASE
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for member, user in list(self.claims.items()):
                        pipe.zadd(sockets_key(user), {member: end}, xx=True)
                    await pipe.execute()
            except LINK_ERRORS:
                continue


def sockets_key(user: Any) -> str:
    return f"parley:fair:sockets:{user}"


class SnapshotPacer:
    """At most one client-asked snapshot per `interval` per socket: a `sync` inside the interval is
    folded into one snapshot sent when it ends, so re-sending `sync` cannot multiply the work."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.next_at = -math.inf
        self.waiting = False  # a folded snapshot is scheduled

    def delay(self) -> float | None:
        """Seconds to wait before sending the snapshot asked for now, or None: one is already due."""
        if self.waiting:
            return None
        now = self.clock()
        wait = max(0.0, self.next_at - now)
        self.next_at = now + wait + self.interval
        self.waiting = wait > 0
        return wait

    def sent(self) -> None:
        self.waiting = False
