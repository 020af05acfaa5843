"""Publishing a process's frames to conversation groups, coalesced and in order, with resume state.

All generations in a process share one outbox. A reply's first text goes out at once. After it,
each reply's text (its `LiveReply`) is held for at most the current hold from its oldest
unpublished token, and the outbox is flushed on a tick of a fifth of that: replies fall due at
different moments, so each tick carries a slice of them instead of one burst for all.

The hold adapts to load (smart batching). Load is read two ways each LOAD_PERIOD: the process's
own CPU use, and how late the flush loop ran against when it was due, which also catches a
process starved of CPU by others. On an idle process the hold is zero, so each delta goes out as
soon as the event loop is free; as the process gets busy it grows to PARLEY_FLUSH_INTERVAL (the
window), so deltas of the same reply merge and frames per token fall when CPU is scarce.
docs/performance.md has the rule and its measurements. With Redis, every delta also updates the
reply's resume state (its text and seq), always before its frame is published, so a socket that
subscribes and then reads that state can never miss a later delta (docs/architecture.md).

Metrics are kept per flush, not per token: the tokens, size and wait of a flush are counted once
it is sent, and a reply's time to first token when its first text marks it dirty.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis import asyncio as aioredis

from .. import metrics, protocol
from ..parts import storable
from .local import LocalSockets
from .resume_state import Entry, ResumeState

logger = logging.getLogger(__name__)

TICKS_PER_WINDOW = 5
LOAD_PERIOD = 0.1  # seconds of wall time over which the process's CPU use is sampled
IDLE_BELOW = 0.75  # CPU use (share of one core) under which nothing is held, while sends are starting
BUSY_ABOVE = 0.95  # CPU use from which text is held for the whole window, while sends are starting
# With no send starting, text has the core to itself: a frame per token until it is nearly full.
STREAMING_IDLE_BELOW = 0.85
STREAMING_BUSY_ABOVE = 1.0
# Seconds late the flush loop runs: under LATE_IDLE is an idle loop's own jitter (a sleep ends up to
# 1 ms late, epoll's granularity), from LATE_BUSY on text is held for the whole window.
LATE_IDLE = 0.002
LATE_BUSY = 0.010
GROUP_PREFIX = "conv."
CLOSE_WAIT = 5.0  # seconds close() gives the flush loop to finish a flush under way


def conversation_group(conversation_id: Any) -> str:
    return f"{GROUP_PREFIX}{conversation_id}"


def frame_message(frame: str, **markers: str) -> dict[str, Any]:
    """The channel-layer message relaying a whole frame; `opens`, `done` and `created` are the
    consumer's bookkeeping markers (consumers.py)."""
    return {"type": "chat.frame", "frame": frame, **markers}


class LiveReply:
    """One streaming reply's text and seq: the accumulator the provider feeds and the broadcaster
    drains. `content` and `seq` describe published text only, so a snapshot built from them plus
    later deltas reproduces the reply exactly."""

    __slots__ = (
        "conversation_id", "dirty_at", "first_token_at", "group", "id", "id_str", "live_stale", "mark_dirty", "parts",
        "pending", "seq", "started_at", "tokens",
    )  # fmt: skip

    def __init__(
        self, reply_id: uuid.UUID, conversation_id: uuid.UUID, mark_dirty: Callable, started_at: float | None = None
    ) -> None:
        self.id = reply_id
        self.id_str = str(reply_id)
        self.conversation_id = conversation_id
        self.group = conversation_group(conversation_id)
        self.mark_dirty = mark_dirty  # tells the broadcaster this reply has text to flush
        self.parts: list[str] = []  # published deltas, in seq order
        self.pending: list[str] = []  # received since the last flush
        self.dirty_at = 0.0  # when the oldest pending text arrived (the broadcaster sets it)
        self.seq = 0
        self.live_stale = False  # a lost Redis write means the resume state must be rewritten whole
        self.started_at = started_at  # when the reply was asked for, on the broadcaster's clock (time to first token)
        self.first_token_at: float | None = None  # when its first text arrived, on the same clock
        self.tokens = 0  # text chunks published so far (the live console's count), added per flush

    def resume(self, content: str, seq: int) -> None:
        """Go on from saved text (a continued reply): its next delta is seq + 1, and the first flush
        rewrites its resume state whole, which may have expired since."""
        self.parts = ([content] + [""] * (seq - 1)) if content else [""] * seq  # one part per delta, as ever
        self.seq = len(self.parts)
        self.live_stale = True

    def append(self, text: str) -> None:
        text = storable(text)  # what is published is what is saved
        if not text:
            return
        if not self.pending:
            self.mark_dirty(self)
        self.pending.append(text)

    def take_delta(self) -> str | None:
        """Publish what is pending as the next delta, or None when nothing is."""
        if not self.pending:
            return None
        delta = "".join(self.pending) if len(self.pending) > 1 else self.pending[0]
        self.pending.clear()
        self.parts.append(delta)
        self.seq += 1
        return delta

    @property
    def content(self) -> str:
        return "".join(self.parts)

    def content_through(self, seq: int) -> str:
        return "".join(self.parts[:seq])


class Broadcaster:
    def __init__(
        self,
        layer: Any,
        window: float,
        redis: aioredis.Redis | None = None,
        *,
        redis_channel: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.process_time,
        local: LocalSockets | None = None,
    ) -> None:
        self.layer = layer
        self.local = local  # this process's sockets, which get a batch directly when Redis fails
        self.window = window
        self.cpu_clock = cpu_clock
        self.load_sampled = (clock(), cpu_clock())  # wall and CPU time when the load was last measured
        self.start_batches: Callable[[], int] = lambda: 0  # start batches the process has begun (watch_starts)
        self.starts_sampled = 0  # that count when the load was last measured
        self.latest = 0.0  # the most the flush loop ran late since the load was last measured
        self.woken_at = 0.0  # when the flush loop was last woken
        self.hold = 0.0  # how long text may wait for more of its reply: 0 when idle, `window` when busy
        self.tick = 0.0  # the least time between two flushes, a fifth of the hold
        self.wait_before_due = 0.0  # a reply dirty this long is flushed on the next tick
        self.redis = redis  # the resume state's connection, when the layer is Redis
        self.resume = ResumeState(redis, layer) if redis is not None else None
        # The Redis channel the layer carries a group on, when publishing there directly is
        # verified for the installed channels-redis (chatsite/compat.py); else group_send.
        self.redis_channel = redis_channel
        self.clock = clock
        self.outbox: list[Entry] = []
        self.dirty: deque[LiveReply] = deque()  # replies with unpublished text, oldest text first
        self.first_texts: list[LiveReply] = []  # replies whose first text waits for the loop's next turn
        self.first_text_queued = False  # a first text is in the outbox: the next flush goes at once
        self.handing_over: set[asyncio.Task] = set()  # first texts on their way to this process's sockets
        self.wakeup = asyncio.Event()
        self.last_flush = -math.inf
        self.dropped = 0  # batches lost in the current Redis outage, logged once when it ends
        self.task: asyncio.Task | None = None  # the one running `run`, which its owner starts
        self.closing = False  # set by close(): `run` ends after its next flush
        self.queued_tokens = 0  # text chunks in the deltas queued since the last flush (metrics)
        self.oldest_queued = math.inf  # when the oldest text queued since the last flush arrived (metrics)

    async def prepare(self) -> None:
        """Connect and load the script now, so the first reply's first flush does not pay for it."""
        if self.resume is not None and self.redis_channel is not None:
            await self.resume.load_script()

    def watch_starts(self, start_batches: Callable[[], int]) -> None:
        """Hold text sooner while sends are starting, so a burst's first tokens are not kept waiting
        by a frame per token; `start_batches` counts the batches of starts begun."""
        self.start_batches = start_batches
        self.starts_sampled = start_batches()

    def mark_dirty(self, reply: LiveReply) -> None:
        reply.dirty_at = self.clock()
        if reply.first_token_at is None:  # its very first text: no coalescing delay
            reply.first_token_at = reply.dirty_at
            if reply.started_at is not None:
                metrics.TIME_TO_FIRST_TOKEN.observe(reply.dirty_at - reply.started_at)
            if not self.first_texts:
                asyncio.get_running_loop().call_soon(self.take_first_texts)
            self.first_texts.append(reply)
        else:
            self.dirty.append(reply)
        self.wake()

    def wake(self) -> None:
        if not self.wakeup.is_set():
            self.woken_at = self.clock()
            self.wakeup.set()

    def publish(self, group: str, message: dict[str, Any]) -> None:
        """Queue a whole frame (created, completed) behind everything queued before it."""
        self.outbox.append((group, message, None))
        self.wake()

    def drain(self, reply: LiveReply) -> None:
        """Queue a reply's pending text now, so it precedes the frame that finishes it."""
        self._queue_delta(reply)

    async def run(self) -> None:
        while not self.closing:
            waiting = not self.wakeup.is_set()  # woken while it slept or flushed, the loop was not late
            await self.wakeup.wait()
            self.wakeup.clear()
            if not self.dirty and not self.outbox and not self.first_texts:
                continue  # a shutdown flush took it all
            now = self.clock()
            late = now - self.woken_at if waiting else 0.0  # the loop's delay in resuming this task once woken
            wait = self.next_flush_in()
            if wait > 0:
                await asyncio.sleep(wait)
                late = max(late, self.clock() - now - wait)  # and in ending its sleep
            self.latest = max(self.latest, late)
            self.last_flush = self.clock()
            await self.flush(dirty_before=self.last_flush - self.wait_before_due)
            self.adapt_hold()
            if self.outbox or self.dirty or self.first_texts:
                self.wake()

    def next_flush_in(self) -> float:
        """Seconds to the next flush: a first text goes at once; whole frames a tick after the last
        flush; other text when its reply's hold ends, and never sooner than a tick after the last flush."""
        now = self.clock()
        if self.first_texts or self.first_text_queued:
            return 0.0
        due = now if self.outbox else self.dirty[0].dirty_at + self.wait_before_due
        return max(due, self.last_flush + self.tick) - now

    def take_first_texts(self) -> None:
        """Queue the first texts waiting, and hand each to this process's sockets following its reply
        at once, without waiting for the flush under way or for Redis: the sender's socket is in this
        process (a reply runs where its send arrived), and under load the copy through Redis waits
        behind every other reply's deltas, then is dropped by seq (consumers.py, `first_text`)."""
        queued = len(self.outbox)
        for reply in self.first_texts:
            self._queue_delta(reply)
        self.first_texts.clear()
        taken = self.outbox[queued:]
        if not taken:
            return
        self.first_text_queued = True
        self.wake()
        if self.local is not None:
            task = asyncio.get_running_loop().create_task(self._hand_over(self.local, taken))
            self.handing_over.add(task)
            task.add_done_callback(self.handing_over.discard)

    def adapt_hold(self) -> None:
        """Every LOAD_PERIOD, set the hold from the CPU share this process used and from how late
        the flush loop ran, whichever says busier. The CPU share counts for more while sends are
        starting (a start batch began in the period)."""
        now, cpu = self.clock(), self.cpu_clock()
        sampled_at, sampled_cpu = self.load_sampled
        if now - sampled_at < LOAD_PERIOD:
            return
        self.load_sampled = (now, cpu)
        busy = (cpu - sampled_cpu) / (now - sampled_at)
        late, self.latest = self.latest, 0.0
        starts_before, self.starts_sampled = self.starts_sampled, self.start_batches()
        starting = self.starts_sampled != starts_before
        idle, full = (IDLE_BELOW, BUSY_ABOVE) if starting else (STREAMING_IDLE_BELOW, STREAMING_BUSY_ABOVE)
        load = max((busy - idle) / (full - idle), (late - LATE_IDLE) / (LATE_BUSY - LATE_IDLE))
        self.hold = self.window * min(1.0, max(0.0, load))
        self.tick = self.hold / TICKS_PER_WINDOW
        self.wait_before_due = self.hold - self.tick

    async def flush(self, dirty_before: float = math.inf) -> None:
        """Send the queued whole frames and the text of every reply dirty since `dirty_before` or
        earlier; everything, by default."""
        self.take_first_texts()
        self.first_text_queued = False
        dirty = self.dirty
        while dirty and dirty[0].dirty_at <= dirty_before:
            self._queue_delta(dirty.popleft())
        batch, self.outbox = self.outbox, []
        if not batch:
            return
        oldest, self.oldest_queued = self.oldest_queued, math.inf
        metrics.TOKENS_STREAMED.inc(self.queued_tokens)
        self.queued_tokens = 0
        try:
            await self._send(batch)
        except Exception as error:  # Redis blinked: clients heal the gap by seq and snapshot
            metrics.BROADCAST_REDIS_ERRORS.inc()
            if not self.dropped:
                logger.warning("Broadcasts are failing, generations continue: %s", error)
            self.dropped += 1
            for _, _, reply in batch:
                if reply is not None:
                    reply.live_stale = True
            await self._deliver_locally(batch)
            return
        metrics.FLUSH_SIZE.observe(len(batch))
        if oldest != math.inf:
            metrics.ADDED_LATENCY.observe(self.clock() - oldest)
        if self.dropped:
            logger.warning("Broadcasts recovered after %d dropped batches", self.dropped)
            self.dropped = 0
            if self.local is not None:
                await self.local.set_degraded(False)

    @staticmethod
    async def _hand_over(local: LocalSockets, first_texts: list[Entry]) -> None:
        for group, message, _ in first_texts:
            await local.hand_over(group, message)

    async def _deliver_locally(self, batch: list[Entry]) -> None:
        """This process's sockets still get the batch, in order; any that Redis did carry before it
        failed are ignored by seq (deltas) and by id (created frames) on arrival."""
        if self.local is None:
            return
        await self.local.set_degraded(True)
        for group, message, _ in batch:
            await self.local.deliver(group, message)

    def _queue_delta(self, reply: LiveReply) -> None:
        chunks = len(reply.pending)
        delta = reply.take_delta()
        if delta is None:
            return
        self.queued_tokens += chunks
        reply.tokens += chunks
        self.oldest_queued = min(self.oldest_queued, reply.dirty_at)
        frame = protocol.delta_frame(reply.id_str, reply.seq, delta)
        message = {"type": "chat.delta", "id": reply.id_str, "seq": reply.seq, "frame": frame}
        self.outbox.append((reply.group, message, reply))

    async def _send(self, batch: list[Entry]) -> None:
        if self.resume is not None and self.redis_channel is not None:
            await self.resume.write(batch, publish_on=self.redis_channel)  # the frames too, in the same call
            return
        if self.resume is not None and any(reply is not None for _, _, reply in batch):
            await self.resume.write(batch)  # before any of the batch is published through the layer
        for group, message, _ in batch:
            await self.layer.group_send(group, message)

    async def read_live(self, reply_id: str) -> tuple[str, int] | None:
        """The published text and seq of a reply streaming in any process, from Redis."""
        return None if self.resume is None else await self.resume.read(reply_id)

    async def close(self) -> None:
        """Publish what is queued, end the flush loop, close the Redis connection.

        The loop is asked to end rather than cancelled: a cancellation that lands inside a Redis call
        can be lost there, and the loop would then wait for work forever (seen with redis-py 5.2).
        """
        self.closing = True
        self.wakeup.set()
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=CLOSE_WAIT)
            self.task.cancel()  # only if it is still stuck in a call
        await self.flush()
        if self.handing_over:
            await asyncio.wait(self.handing_over)
        if self.redis is not None:
            await self.redis.aclose()


def publish_after_commit(conversation_id: Any, frame: str) -> None:
    """Relay a whole frame from synchronous code to the conversation's sockets once the change
    that it announces is committed."""

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(conversation_group(conversation_id), frame_message(frame))
        except Exception:  # the change is saved; open tabs catch up on their next snapshot
            logger.exception("Could not notify sockets of conversation %s", conversation_id)

    transaction.on_commit(send)


def resync_after_commit(conversation_id: Any) -> None:
    """Once the change commits, have every socket on the conversation send its client a fresh
    snapshot: each builds its own, with the live text and seq bookkeeping that socket needs."""

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(conversation_group(conversation_id), {"type": "chat.resync"})
        except Exception:  # the change is saved; open tabs catch up on their next snapshot
            logger.exception("Could not ask the sockets of conversation %s to resync", conversation_id)

    transaction.on_commit(send)
