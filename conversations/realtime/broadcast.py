"""Publishing a process's frames to conversation groups, coalesced and in order.

All generations in a process share one outbox. Each reply's text is coalesced for at most
PARLEY_FLUSH_INTERVAL (the window) from its oldest unpublished token, and the outbox is
flushed on a tick of a fifth of that. Replies are due at different moments, so every tick
carries a slice of them: one flush of every reply at once made a burst whose last sockets
waited for all the others (docs/performance.md). With Redis, a flush is one call of
PUBLISH_BATCH, which for each delta updates the reply's resume state and publishes its frame,
atomically and in order: a snapshot read after subscribing can never miss a later delta. One
call instead of a pipelined call per delta: redis-py's packing and reading of each command
were a sixth of the server's time while streaming at N=300.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import NoScriptError

from .. import protocol
from .live import LiveReply

logger = logging.getLogger(__name__)

LIVE_TTL = 3600  # seconds a reply's resume state outlives its last write
TICKS_PER_WINDOW = 5
GROUP_PREFIX = "conv."

SCRIPT_BATCH = 1000  # entries per script call; a larger flush is split, in order, in one pipeline

# A flush, in order. ARGV[1] is the resume state's TTL; then each entry is a kind, a pub/sub
# channel and a payload. A whole frame ("f") is only published. A delta ("a" appends to the
# resume text, "r" rewrites it whole) adds its text and seq, and takes the next two KEYS
# (the reply's text and seq keys): its resume state is updated before its frame is published.
PUBLISH_BATCH = """
local ttl = ARGV[1]
local i, k = 2, 1
while i <= #ARGV do
  local kind = ARGV[i]
  if kind ~= 'f' then
    if kind == 'r' then
      redis.call('SET', KEYS[k], ARGV[i + 3], 'EX', ttl)
    else
      redis.call('APPEND', KEYS[k], ARGV[i + 3])
      redis.call('EXPIRE', KEYS[k], ttl)
    end
    redis.call('SET', KEYS[k + 1], ARGV[i + 4], 'EX', ttl)
  end
  redis.call('PUBLISH', ARGV[i + 1], ARGV[i + 2])
  if kind == 'f' then i = i + 3 else i, k = i + 5, k + 2 end
end
return 0
"""


def conversation_group(conversation_id: Any) -> str:
    return f"{GROUP_PREFIX}{conversation_id}"


def live_keys(reply_id: str) -> tuple[str, str]:
    return f"parley:live:{reply_id}:text", f"parley:live:{reply_id}:seq"


class Broadcaster:
    def __init__(self, layer: Any, window: float, redis: aioredis.Redis | None = None) -> None:
        self.layer = layer
        self.tick = window / TICKS_PER_WINDOW
        self.wait_before_due = window - self.tick  # a reply dirty this long is flushed on the next tick
        self.redis = redis  # publishes on its own connection when the layer is Redis
        self.script_sha: str | None = None  # PUBLISH_BATCH, loaded on first use and after a restart
        # (group, channel-layer message, the reply a delta belongs to / None for whole frames)
        self.outbox: list[tuple[str, dict[str, Any], LiveReply | None]] = []
        self.dirty: deque[LiveReply] = deque()  # replies with unpublished text, oldest text first
        self.wakeup = asyncio.Event()
        self.last_flush = 0.0
        self.dropped = 0  # batches lost in the current Redis outage, logged once when it ends
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name="parley-broadcaster")

    async def prepare(self) -> None:
        """Connect and load the script now, so the first reply's first flush does not pay for it."""
        if self.redis is not None:
            self.script_sha = await self.redis.script_load(PUBLISH_BATCH)

    def mark_dirty(self, reply: LiveReply) -> None:
        reply.dirty_at = time.monotonic()
        self.dirty.append(reply)
        self.wakeup.set()

    def publish(self, group: str, message: dict[str, Any]) -> None:
        """Queue a whole frame (created, completed) behind everything queued before it."""
        self.outbox.append((group, message, None))
        self.wakeup.set()

    def drain(self, reply: LiveReply) -> None:
        """Queue a reply's pending text now, so it precedes the frame that finishes it."""
        self._queue_delta(reply)

    async def run(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            if not self.dirty and not self.outbox:
                continue  # a shutdown flush took it all
            due = time.monotonic() if self.outbox else self.dirty[0].dirty_at + self.wait_before_due
            wait = max(due, self.last_flush + self.tick) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.last_flush = time.monotonic()
            await self.flush(dirty_before=self.last_flush - self.wait_before_due)
            if self.outbox or self.dirty:
                self.wakeup.set()

    async def flush(self, dirty_before: float = math.inf) -> None:
        """Send the queued whole frames and the text of every reply dirty since `dirty_before` or
        earlier; everything, by default."""
        dirty = self.dirty
        while dirty and dirty[0].dirty_at <= dirty_before:
            self._queue_delta(dirty.popleft())
        batch, self.outbox = self.outbox, []
        if not batch:
            return
        try:
            if self.redis is not None:
                await self._send_redis(batch)
            else:
                for group, message, _ in batch:
                    await self.layer.group_send(group, message)
        except Exception as error:  # Redis blinked: clients heal the gap by seq and snapshot
            if not self.dropped:
                logger.warning("Broadcasts are failing, generations continue: %s", error)
            self.dropped += 1
            for _, _, reply in batch:
                if reply is not None:
                    reply.live_stale = True
            return
        if self.dropped:
            logger.warning("Broadcasts recovered after %d dropped batches", self.dropped)
            self.dropped = 0

    def _queue_delta(self, reply: LiveReply) -> None:
        delta = reply.take_delta()
        if delta is None:
            return
        frame = protocol.delta_frame(reply.id_str, reply.seq, delta)
        message = {"type": "chat.delta", "id": reply.id_str, "seq": reply.seq, "frame": frame}
        self.outbox.append((reply.group, message, reply))

    async def _send_redis(self, batch: list[tuple[str, dict[str, Any], LiveReply | None]]) -> None:
        """One round trip and, up to SCRIPT_BATCH entries, one script call for the whole batch."""
        if self.script_sha is None:
            self.script_sha = await self.redis.script_load(PUBLISH_BATCH)
        rewritten = [reply for _, _, reply in batch if reply is not None and reply.live_stale]
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(batch), SCRIPT_BATCH):
                keys: list[str] = []
                args: list[Any] = [LIVE_TTL]
                for group, message, reply in batch[start : start + SCRIPT_BATCH]:
                    channel, payload = self.layer.group_channel(group), self.layer.encode(message)
                    if reply is None:
                        args += ("f", channel, payload)
                        continue
                    seq = message["seq"]
                    text = reply.content_through(seq) if reply.live_stale else reply.parts[seq - 1]
                    keys += live_keys(reply.id_str)
                    args += ("r" if reply.live_stale else "a", channel, payload, text, seq)
                pipe.evalsha(self.script_sha, len(keys), *keys, *args)
            try:
                await pipe.execute()
            except NoScriptError:
                self.script_sha = None  # Redis restarted and forgot the script
                raise
        for reply in rewritten:
            reply.live_stale = False

    async def read_live(self, reply_id: str) -> tuple[str, int] | None:
        """The published text and seq of a reply streaming in any process, from Redis."""
        if self.redis is None:
            return None
        text, seq = await self.redis.mget(live_keys(reply_id))
        if seq is None:
            return None
        return (text or b"").decode("utf-8"), int(seq)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.redis is not None:
            await self.redis.aclose()
