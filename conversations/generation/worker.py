"""A process's Worker: it saves sends in batches, runs each reply as a task of its own and ends
every reply in `finish`.

The sends a process receives while its previous batch is being saved go together into the next
(group commit, group_commit.py; the batch's transaction is replies/start.py). They are saved on a
thread of their own with its own database connection, so a start never waits behind checkpoints
and final saves on channels' shared database thread, nor behind a sync view holding that thread
while it waits for its start. Final saves are batched the same way on that shared thread, beside
the checkpoints of the same replies.

Whatever ends a reply (its last token, a stop, an upstream error, the deadline, a shutdown), the
text so far is published, saved once and announced there. A final save that fails is retried
until the database answers; a process that shuts down first hands the reply to the recovery
path (realtime/recovery.py), which another process's sweep completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections, router

from .. import metrics, protocol, replies, selectors, titles
from ..attachments import prompt as attachment_prompt
from ..console import reports
from ..crypto import SecretUnreadable
from ..group_commit import GroupCommit
from ..llm.base import ChatMessage, Finish
from ..llm.errors import DeadlineExceeded, LLMError
from ..models import Message
from ..parts import Part, cut_off, parts_view
from ..realtime import fairness, final_save, housekeeping, liveness, local
from ..realtime.broadcast import Broadcaster, LiveReply, conversation_group, frame_message
from ..realtime.owner_updates import owner_message
from ..replies import FinalState
from ..revocation import user_group
from ..tools.loop import Record, ToolStepsExceeded, respond_with_tools
from ..tools.offered import offered_tools
from ..tools.preview import Show
from ..tools.schema import ToolContext
from . import tool_parts
from .config import catalog_provider, reply_options
from .running import Outcome, Running, charged

logger = logging.getLogger(__name__)
Status = Message.Status
ReplyStart = replies.ReplyStart
INTERNAL_ERROR = "Parley failed while writing this reply; the text so far was kept."
KEY_UNREADABLE = "This model's provider is misconfigured (its API key cannot be read); tell an administrator."
STOP_WAIT = 5.0  # seconds a shutdown waits for the worker's loops to end once cancelled
START_BATCH_MAX = 300  # starts per transaction: bounds its statements and how long it holds locks
FINISH_BATCH_MAX = 100  # final saves per transaction, for the same reasons
CLOSE_WAIT = 5.0  # seconds closing the start thread waits for a batch still being saved


def stop_message(reply: Message) -> dict[str, str]:
    """The control message that stops a reply on the process that runs it."""
    return {"type": "generation.stop", "id": str(reply.id)}


class Worker:
    """This process's share of the streaming work: its running replies, their broadcaster, a
    control channel other processes use to stop them, and the housekeeping loops."""

    def __init__(self, layer: Any, broadcaster: Broadcaster, channel: str) -> None:
        self.layer = layer
        self.broadcaster = broadcaster
        self.channel = channel  # stored on each reply so any process can stop it
        self.redis = broadcaster.redis  # liveness and the recovery path's hand-offs, when the layer is Redis
        self.running: dict[str, Running] = {}  # every reply not yet saved, finishing ones included
        self.closing = asyncio.Event()  # set by shutdown: final saves stop retrying and hand off
        self.tasks: set[asyncio.Task] = set()  # referenced here until done, so none is collected
        self.ledger = fairness.Ledger(broadcaster.redis)  # per-user fair-use counts of this process's sockets
        self.starts = GroupCommit(save_starts, START_BATCH_MAX, rest=True)  # sends, in batches on the start thread
        self.finishes = GroupCommit(database_sync_to_async(replies.replies_finish), FINISH_BATCH_MAX, rest=True)
        broadcaster.watch_starts(lambda: self.starts.batches)

    def spawn(self, job, name: str) -> asyncio.Task:
        """Run `job` as a task of the worker's, in a context of its own: a task outlives its caller,
        and must not inherit a request's (asgiref's per-request thread executor, for one)."""
        task = asyncio.get_running_loop().create_task(job, name=name, context=contextvars.Context())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def start(self) -> None:
        self.broadcaster.task = self.spawn(self.broadcaster.run(), "parley-broadcaster")
        self.spawn(self.control_loop(), "parley-control")
        self.spawn(housekeeping.checkpoint_loop(self), "parley-checkpoint")
        self.spawn(housekeeping.sweep_loop(self), "parley-sweep")
        self.spawn(housekeeping.expire_uploads_loop(), "parley-expire-uploads")
        self.spawn(reports.report_loop(self), "parley-console-reports")
        if self.broadcaster.redis is not None:
            self.spawn(local.sockets.watch(self.broadcaster.redis.ping), "parley-live-sync-watch")
            self.spawn(self.ledger.renew_loop(), "parley-socket-leases")

    def begin(
        self,
        started: ReplyStart,
        request_id: str | None,
        *,
        asked_at: float | None = None,
        sampling: dict[str, float | int] | None = None,
    ) -> None:
        """Announce a new reply and run it as a task of its own; `asked_at` (the broadcaster's clock)
        starts its time to first token, `sampling` overrides its options."""
        if started.duplicate:
            return  # the caller answers a retry with what the first request created
        reply = started.reply
        group = conversation_group(reply.conversation_id)
        replaces = started.replaces  # the first new message takes the place of the one it branches from
        if started.user_message is not None:
            created = protocol.created_frame(protocol.message_payload(started.user_message), request_id, replaces)
            self.broadcaster.publish(group, frame_message(created, created=str(started.user_message.id)))
            replaces = None
        created = protocol.created_frame(protocol.message_payload(reply), request_id, replaces)
        if started.continues:  # sockets that saw it end follow it again, from its saved seq
            markers = {"reopens": str(reply.id), "seq": str(reply.seq)}
        else:
            markers = {"created": str(reply.id), "opens": str(reply.id)}
        self.broadcaster.publish(group, frame_message(created, **markers))
        live = LiveReply(reply.id, reply.conversation_id, self.broadcaster.mark_dirty, asked_at)
        running = Running(reply, live, started.model, dataclasses.replace(reply_options(started), **(sampling or {})))
        running.prompt = [str(turn.get("content") or "") for turn in started.history]
        if started.continues:
            live.resume(reply.content, reply.seq)
            running.parts = list(reply.parts or [])
        if started.user_message is not None and reply.position == 1:
            running.first_message = started.user_message.content
        self.running[running.live.id_str] = running
        running.task = self.spawn(self.generate(running, started.history), f"parley-reply-{reply.id}")

    async def generate(self, running: Running, history: list[dict[str, str]]) -> None:
        """One reply's whole life: stream from the provider into its LiveReply, then finish."""
        running.started = True
        outcome = Outcome()
        try:
            if running.stopped:  # stopped before its first step
                outcome.stopped(interrupted=running.interrupted)
            else:
                record, show = (
                    functools.partial(self.record_parts, running),
                    functools.partial(self.show_calls, running),
                )
                await stream(running, history, outcome, record, show)
        except asyncio.CancelledError:
            outcome.stopped(interrupted=running.interrupted)
        finally:
            await asyncio.shield(self.finish(running, outcome))

    async def finish(self, running: Running, outcome: Outcome) -> None:
        """Publish the last text, save the final state once, then announce it; a reply cut off while
        the model wrote a call keeps the call as every tab last saw it (`parts.cut_off`)."""
        running.finishing = True
        live = running.live
        self.broadcaster.drain(live)
        final = FinalState(
            content=live.content,
            seq=live.seq,
            status=outcome.status,
            error=outcome.error,
            model=outcome.finish.model if outcome.finish else "",
            parts=running.parts if running.preview is None else cut_off(running.preview),
            **charged(running, outcome),
        )
        try:
            saved = await final_save.save(
                running.reply, final, finish=self.finishes.submit, redis=self.redis, closing=self.closing
            )
        finally:
            self.running.pop(live.id_str, None)
            metrics.REPLIES.labels(status=outcome.status).inc()
        if saved is not None:
            self.announce_finished(saved)
            if running.first_message is not None and saved.status == Status.COMPLETE and saved.content:
                self.spawn(self.name_chat(running, saved.content), f"parley-title-{live.id_str}")

    async def name_chat(self, running: Running, reply_text: str) -> None:
        """After a chat's first reply, the task model writes its title; every tab hears of it."""
        conversation_id, first_message = running.reply.conversation_id, running.first_message or ""
        try:
            model = await database_sync_to_async(selectors.task_model)() or running.model
            if model is None or not titles.automatic(running.reply.conversation.title, first_message):
                return
            provider = catalog_provider(model.provider)
            title = await titles.ask_title(
                provider, model.name, first_message, reply_text, settings.PARLEY_TITLE_TIMEOUT
            )
            if not title:
                return
            renamed = await database_sync_to_async(replies.reply_titled)(
                conversation_id=conversation_id, first_message=first_message, title=title
            )
        except Exception:  # a title is a nicety: the first-message title stands
            logger.exception("Writing the title of conversation %s failed", conversation_id)
            return
        if renamed is not None:
            frame = protocol.conversation_updated_frame(protocol.conversation_payload(renamed))
            self.broadcaster.publish(conversation_group(conversation_id), frame_message(frame))
            self.broadcaster.publish(user_group(renamed.owner_id), owner_message(conversation_id, frame))

    def announce_finished(self, reply: Message) -> None:
        completed = protocol.completed_frame(protocol.message_payload(reply))
        self.broadcaster.publish(
            conversation_group(reply.conversation_id), frame_message(completed, done=str(reply.id))
        )

    async def record_parts(self, running: Running, new_parts: list[Part]) -> None:
        """A tool event: the text before it goes out first, then the parts are saved and announced
        (saved before announced, so a snapshot that misses them is followed by their frame; while
        the database is away, announced at once and saved when it answers: tool_parts.py)."""
        live = running.live
        self.broadcaster.drain(live)
        running.parts, running.preview = [*parts_view(running.parts, live.content), *new_parts], None
        await tool_parts.save(running, spawn=self.spawn, closing=self.closing)
        self.broadcaster.publish(live.group, frame_message(protocol.parts_frame(live.id_str, running.parts)))

    def show_calls(self, running: Running, calls: list[Part]) -> None:
        """Calls the model is still writing: announced after the text before them, and kept for this
        process's snapshots (`preview_parts`) instead of saved."""
        live = running.live
        self.broadcaster.drain(live)
        running.preview = [*parts_view(running.parts, live.content), *calls]
        self.broadcaster.publish(live.group, frame_message(protocol.parts_frame(live.id_str, running.preview)))

    def preview_parts(self, reply_id: str) -> list[Part] | None:
        """The parts last announced for a reply of this process while it writes a call, if any."""
        running = self.running.get(reply_id)
        return running.preview if running is not None else None

    async def stop(self, reply: Message) -> None:
        """Stop a reply wherever it runs: here directly, elsewhere through its process's channel."""
        if not self.stop_local(str(reply.id)) and reply.worker:
            await self.layer.send(reply.worker, stop_message(reply))

    def stop_local(self, reply_id: str, *, interrupted: bool = False) -> bool:
        running = self.running.get(reply_id)
        if running is None:
            return False
        if running.finishing:
            return True  # its text is complete; only its save is left, and a stop must not cut that
        running.stopped = True
        running.interrupted = running.interrupted or interrupted
        if running.started and not running.task.cancelling():  # a second cancel would cut the upstream close
            running.task.cancel()
        return True

    async def live_state(self, reply_id: str) -> tuple[str, int] | None:
        running = self.running.get(reply_id)
        if running is not None:
            return running.live.content, running.live.seq
        return await self.broadcaster.read_live(reply_id)

    async def control_loop(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            if message.get("type") == "generation.stop":
                self.stop_local(message.get("id", ""))

    async def shutdown(self, *, interrupted: bool) -> None:
        """Stop every running reply (saved as cancelled, or interrupted when the server goes away),
        publish what is left, then stop the loops. Final saves still failing hand off to the
        recovery path, and this process stops vouching for itself so a sweep takes them up."""
        self.closing.set()
        reply_tasks = [running.task for running in self.running.values()]
        for reply_id in list(self.running):
            self.stop_local(reply_id, interrupted=interrupted)
        await asyncio.gather(*reply_tasks, return_exceptions=True)
        if self.redis is not None:
            await housekeeping.redis_step(liveness.forget, self.redis, self.channel)
        await self.broadcaster.close()
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            _, stuck = await asyncio.wait(self.tasks, timeout=STOP_WAIT)
            for task in stuck:
                logger.warning("Task %s ignored its cancellation at shutdown", task.get_name())


async def save_starts(requests: list[replies.StartRequest]) -> list[replies.Outcome]:
    return await sync_to_async(_saved, thread_sensitive=False, executor=start_thread())(requests)


def _saved(requests: list[replies.StartRequest]) -> list[replies.Outcome]:
    """One batch, with Django's connection housekeeping around it, as channels' database_sync_to_async does."""
    close_old_connections()
    try:
        return replies.replies_start(requests)
    finally:
        close_old_connections()


@functools.cache
def start_thread() -> ThreadPoolExecutor:
    """The process's thread for saving starts, created on first use."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-starts")


async def open_start_thread() -> None:
    """At start-up: open the start thread's database connection, which the first send would wait for."""
    await sync_to_async(_connect, thread_sensitive=False, executor=start_thread())()


def _connect() -> None:
    connections[router.db_for_write(Message)].ensure_connection()


def close_start_thread() -> None:
    """Close the thread's database connection, then the thread (at shutdown, and after tests)."""
    if start_thread.cache_info().currsize == 0:
        return
    pool = start_thread()
    with contextlib.suppress(TimeoutError):  # a batch still being saved: its thread is left to finish
        pool.submit(connections.close_all).result(timeout=CLOSE_WAIT)
    pool.shutdown(wait=False, cancel_futures=True)
    start_thread.cache_clear()


async def stream(running: Running, history: list[ChatMessage], outcome: Outcome, record: Record, show: Show) -> None:
    """Feed the provider's text into the live reply, within the deadline; record how it ended."""
    try:
        async with asyncio.timeout(settings.PARLEY_GENERATION_DEADLINE):
            outcome.finish = await respond(running, history, record, show)
    except TimeoutError:
        metrics.UPSTREAM_ERRORS.labels(provider=running.model.provider.name, code="deadline").inc()
        outcome.failed(DeadlineExceeded().user_message)
    except ToolStepsExceeded as error:
        running.preview = None  # the refused step's calls were written whole, not cut off: not kept
        outcome.failed(error.user_message)
    except LLMError as error:
        logger.info("Reply %s failed upstream: %s", running.live.id, error)
        metrics.UPSTREAM_ERRORS.labels(
            provider=running.model.provider.name, code=metrics.upstream_error_code(error)
        ).inc()
        outcome.failed(error.user_message)
    except SecretUnreadable as error:
        logger.error("Reply %s: provider %s: %s", running.live.id, running.model.provider.name, error)
        outcome.failed(KEY_UNREADABLE)
    except Exception:
        logger.exception("Reply %s failed", running.live.id)
        outcome.failed(INTERNAL_ERROR)


async def respond(running: Running, history: list[ChatMessage], record: Record, show: Show) -> Finish:
    """The model's answer; for a model offered tools, through the tool loop (conversations/tools/)."""
    provider = catalog_provider(running.model.provider)
    history = await attachment_prompt.resolve(history, vision=running.model.vision)
    tools = await offered_tools(running.model)
    if not tools:
        return await provider.stream_to(history, running.options, running.live.append)
    reply = running.reply
    return await respond_with_tools(
        provider,
        history,
        running.options,
        running.live,
        tools=tools,
        context=ToolContext(user_id=reply.conversation.owner_id, conversation_id=reply.conversation_id),
        record=record,
        show=show,
        max_steps=settings.PARLEY_TOOL_MAX_STEPS,
        preview_interval=settings.PARLEY_FLUSH_INTERVAL,
    )
