"""This process's share of the streaming work: its running replies and their housekeeping.

One Runtime per event loop owns the broadcaster, a control channel other processes use
to stop replies running here, a checkpoint loop that saves partial text and proves this
process is alive, and a sweep that marks replies orphaned by dead processes interrupted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from redis import asyncio as aioredis

from .. import protocol, replies
from ..llm import registry
from ..models import Message
from ..payloads import message_payload
from .broadcast import Broadcaster, conversation_group
from .generation import Outcome, finish, generate
from .live import LiveReply

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Running:
    live: LiveReply
    task: asyncio.Task


class Runtime:
    def __init__(self, layer, broadcaster: Broadcaster, worker_channel: str) -> None:
        self.layer = layer
        self.broadcaster = broadcaster
        self.worker_channel = worker_channel  # stored on each reply so any process can stop it
        self.running: dict[str, Running] = {}
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.broadcaster.start()
        loop = asyncio.get_running_loop()
        for job in (self.control_loop, self.checkpoint_loop, self.sweep_loop):
            self.tasks.append(loop.create_task(job(), name=f"parley-{job.__name__}"))

    def begin(self, started: replies.ReplyStart, request_id: str | None) -> None:
        """Announce a new reply and run its generation as a task of its own."""
        reply = started.reply
        group = conversation_group(reply.conversation_id)
        if started.user_message is not None:
            user_message = started.user_message
            self.announce(
                group, protocol.created_frame(message_payload(user_message), request_id), created=str(user_message.id)
            )
        self.announce(
            group,
            protocol.created_frame(message_payload(reply), request_id, started.replaces),
            created=str(reply.id),
            opens=str(reply.id),
        )
        live = LiveReply(reply.id, reply.conversation_id, group, self.broadcaster.mark_dirty)
        task = asyncio.get_running_loop().create_task(
            generate(
                reply=reply,
                live=live,
                history=started.history,
                provider=registry.get_provider(),
                options=registry.default_options(),
                broadcaster=self.broadcaster,
                deadline=settings.PARLEY_GENERATION_DEADLINE,
            ),
            name=f"parley-reply-{reply.id}",
        )
        self.running[live.id_str] = Running(live, task)
        task.add_done_callback(lambda done: self.ended(done, reply, live))

    def ended(self, task: asyncio.Task, reply: Message, live: LiveReply) -> None:
        self.running.pop(live.id_str, None)
        if task.cancelled():  # stopped before its first step, so its own `finally` never ran
            outcome = Outcome()
            outcome.status = Message.Status.CANCELLED
            asyncio.get_running_loop().create_task(finish(reply, live, outcome, self.broadcaster))

    def announce(self, group: str, frame: str, **markers: str) -> None:
        self.broadcaster.publish(group, {"type": "chat.frame", "frame": frame, **markers})

    async def stop(self, reply: Message) -> None:
        """Stop a reply wherever it runs: here directly, elsewhere through its process's channel."""
        if not self.stop_local(str(reply.id)) and reply.worker:
            await self.layer.send(reply.worker, {"type": "generation.stop", "id": str(reply.id)})

    def stop_local(self, reply_id: str) -> bool:
        running = self.running.get(reply_id)
        if running is None:
            return False
        if not running.task.cancelling():  # a second cancel would interrupt the upstream close
            running.task.cancel()
        return True

    async def live_state(self, reply_id: str) -> tuple[str, int] | None:
        """A streaming reply's published text and seq, wherever it is being generated."""
        running = self.running.get(reply_id)
        if running is not None:
            return running.live.content, running.live.seq
        return await self.broadcaster.read_live(reply_id)

    async def control_loop(self) -> None:
        while True:
            message = await self.layer.receive(self.worker_channel)
            if message.get("type") == "generation.stop":
                self.stop_local(message.get("id", ""))

    async def checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(settings.PARLEY_CHECKPOINT_INTERVAL)
            states = [(r.live.id, r.live.content, r.live.seq) for r in self.running.values()]
            if states:
                await guarded(database_sync_to_async(replies.replies_checkpoint), states=states)

    async def sweep_loop(self) -> None:
        while True:
            stale_before = timezone.now() - timedelta(seconds=settings.PARLEY_STALE_AFTER)
            orphans = await guarded(
                database_sync_to_async(replies.replies_interrupt_orphans), stale_before=stale_before
            )
            for reply in orphans or []:
                self.broadcaster.publish(
                    conversation_group(reply.conversation_id),
                    {
                        "type": "chat.frame",
                        "frame": protocol.completed_frame(message_payload(reply)),
                        "done": str(reply.id),
                    },
                )
            await asyncio.sleep(settings.PARLEY_STALE_AFTER / 2)


async def guarded(job, **kwargs):
    """Run a housekeeping step; a failure is logged and retried on the next round."""
    try:
        return await job(**kwargs)
    except Exception:
        logger.exception("Housekeeping step %s failed", getattr(job, "__name__", job))
        return None


_runtimes: dict[asyncio.AbstractEventLoop, Runtime] = {}


async def get_runtime() -> Runtime:
    """This event loop's runtime, started on first use."""
    loop = asyncio.get_running_loop()
    runtime = _runtimes.get(loop)
    if runtime is None:
        layer = get_channel_layer()
        worker_channel = await layer.new_channel("parley.worker.")
        if loop not in _runtimes:  # another connect may have won the race while we awaited
            broadcaster = Broadcaster(layer, settings.PARLEY_FLUSH_INTERVAL, redis_client())
            _runtimes[loop] = Runtime(layer, broadcaster, worker_channel)
            _runtimes[loop].start()
        runtime = _runtimes[loop]
    return runtime


async def shutdown_runtime(*, interrupted: bool = False) -> None:
    """Stop this loop's runtime; running replies are saved with their text as cancelled, or as
    interrupted when the server itself is going away."""
    runtime = _runtimes.pop(asyncio.get_running_loop(), None)
    if runtime is None:
        return
    replies_running = [running.task for running in runtime.running.values()]
    for reply_id, running in list(runtime.running.items()):
        running.live.interrupted = interrupted
        runtime.stop_local(reply_id)
    await asyncio.gather(*replies_running, return_exceptions=True)
    await runtime.broadcaster.flush()
    for task in runtime.tasks:
        task.cancel()
    await asyncio.gather(*runtime.tasks, return_exceptions=True)
    await runtime.broadcaster.close()


def redis_client() -> aioredis.Redis | None:
    """The broadcaster's own Redis connection, when the channel layer is Redis."""
    if not settings.REDIS_URL:
        return None
    return aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
