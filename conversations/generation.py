"""The generation service: the one entry point that starts, regenerates and stops replies.

The socket consumer, the JSON API and manage.py commands all call `start`, `edit`, `regenerate`
and `stop`. A started reply runs as a task of this process's `Worker`, never inside its caller, so a
closed tab or a finished HTTP request changes nothing. Whatever ends a reply (its last token, a
stop, an upstream error, the deadline, a shutdown), it ends in `Worker.finish`: the text so far
is published, saved once and announced. A final save that fails is retried until the database
answers; a process that shuts down first hands the reply to the recovery path
(realtime/recovery.py), which another process's sweep completes.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from redis import asyncio as aioredis

from chatsite import compat

from . import accounting, metrics, protocol, replies, selectors, titles
from .attachments import prompt as attachment_prompt
from .catalog.environment import ensure_catalog
from .catalog.loader import load_models_file
from .console import reports
from .crypto import SecretUnreadable
from .llm import registry
from .llm.base import ChatMessage, Finish, Options, Provider, Usage
from .llm.client import close_http_clients, get_http_client
from .llm.config import HTTPLimits, HTTPNetwork, ProviderConfig, SimulatorDefaults
from .llm.errors import DeadlineExceeded, LLMError
from .llm.providers.simulator import stop_in_process_simulator
from .models import LLMModel, Message
from .models import Provider as CatalogProvider
from .parts import Part, parts_view
from .realtime import fairness, final_save, housekeeping, liveness, local
from .realtime.broadcast import Broadcaster, LiveReply, conversation_group, frame_message
from .realtime.recovery import FinalState
from .tools.loop import Record, ToolStepsExceeded, respond_with_tools
from .tools.offered import offered_tools
from .tools.runner import close_tool_threads
from .tools.schema import ToolContext

logger = logging.getLogger(__name__)
Status = Message.Status
Refused = replies.ReplyRefused
ReplyStart = replies.ReplyStart
INTERNAL_ERROR = "Parley failed while writing this reply; the text so far was kept."
KEY_UNREADABLE = "This model's provider is misconfigured (its API key cannot be read); tell an administrator."
STOP_WAIT = 5.0  # seconds a shutdown waits for the worker's loops to end once cancelled


async def start(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    content: str,
    request_id: str,
    model: int | None = None,
    attachments: tuple[str, ...] = (),
    sampling: dict[str, float | int] | None = None,
) -> ReplyStart:
    """Save the user's message (with its attachments) and stream a reply to it; a retried
    request_id starts nothing new.

    `model` (a catalog id) picks the model for this one reply instead of the conversation's;
    `sampling` (temperature, max_tokens) overrides its options (the /v1/ API passes its request's)."""
    worker = await get_worker()
    asked_at = worker.broadcaster.clock()
    started = await database_sync_to_async(replies.reply_start)(
        user=user,
        conversation_id=conversation_id,
        content=content,
        request_id=request_id,
        attachments=attachments,
        worker=worker.channel,
        model_id=model,
    )
    worker.begin(started, request_id, asked_at=asked_at, sampling=sampling)
    return started


async def regenerate(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    request_id: str | None,
    message_id: uuid.UUID | str | None = None,
) -> ReplyStart:
    """Stream a new sibling of a reply on the branch shown (the last unless `message_id` names
    another), once per request_id; the earlier reply stays as another branch."""
    worker = await get_worker()
    asked_at = worker.broadcaster.clock()
    started = await database_sync_to_async(replies.reply_regenerate)(
        user=user, conversation_id=conversation_id, request_id=request_id, worker=worker.channel, message_id=message_id
    )
    worker.begin(started, request_id, asked_at=asked_at)
    return started


async def edit(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    message_id: uuid.UUID | str,
    content: str,
    request_id: str,
) -> ReplyStart:
    """Save a sibling of a user message on the branch shown with new text, and stream a reply to it."""
    worker = await get_worker()
    asked_at = worker.broadcaster.clock()
    started = await database_sync_to_async(replies.reply_edit)(
        user=user,
        conversation_id=conversation_id,
        message_id=message_id,
        content=content,
        request_id=request_id,
        worker=worker.channel,
    )
    worker.begin(started, request_id, asked_at=asked_at)
    return started


async def continue_reply(
    *, user: AbstractBaseUser, conversation_id: uuid.UUID | str, request_id: str | None
) -> ReplyStart:
    """Stream more of the conversation's interrupted last reply, after its saved text, once per request_id."""
    worker = await get_worker()
    asked_at = worker.broadcaster.clock()
    started = await database_sync_to_async(replies.reply_continue)(
        user=user, conversation_id=conversation_id, request_id=request_id, worker=worker.channel
    )
    worker.begin(started, request_id, asked_at=asked_at)
    return started


async def stop(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str, operator: bool = False) -> Message:
    """Stop the reply streaming in this conversation, on whichever process runs it, and return it.
    An `operator` (the live console, whose view checked its permission) may stop anyone's reply."""
    reply = await database_sync_to_async(_streaming_reply)(
        user=user, conversation_id=conversation_id, operator=operator
    )
    if reply is None:
        raise Refused("not_generating", "No reply is being generated in this conversation.")
    await (await get_worker()).stop(reply)
    return reply


def _streaming_reply(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str, operator: bool) -> Message | None:
    """Ownership is checked on every stop, not only when a socket connects (operators own none)."""
    if operator:
        conversation = selectors.conversation_get_any(conversation_id=conversation_id)
    else:
        conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    if conversation is None:
        raise Refused("not_found", "This conversation does not exist.")
    return selectors.streaming_reply(conversation=conversation)


def stop_after_commit(reply: Message) -> None:
    """From synchronous code: stop a reply on the process that runs it, once the caller's
    transaction commits (a deleted conversation must not keep paying for its upstream call)."""
    if reply.worker:
        message = stop_message(reply)
        transaction.on_commit(lambda: async_to_sync(get_channel_layer().send)(reply.worker, message))


def stop_message(reply: Message) -> dict[str, str]:
    return {"type": "generation.stop", "id": str(reply.id)}


async def live_state(reply_id: str) -> tuple[str, int] | None:
    """A streaming reply's published text and seq, wherever it is being generated."""
    return await (await get_worker()).live_state(reply_id)


def reply_options(started: ReplyStart) -> Options:
    """What one reply asks its model for: the catalog model's upstream name, the conversation's
    temperature (else LLM_TEMPERATURE) and LLM_MAX_TOKENS."""
    temperature = started.reply.conversation.temperature
    return Options(
        model=started.model.name,
        temperature=settings.LLM_TEMPERATURE if temperature is None else temperature,
        max_tokens=settings.LLM_MAX_TOKENS,
    )


def catalog_provider(provider: CatalogProvider) -> Provider:
    """The LLM layer's provider for a catalog row, built once per distinct configuration."""
    return registry.get_provider(provider.kind, provider_config(provider))


def provider_config(provider: CatalogProvider | None = None) -> ProviderConfig:
    """The LLM layer's configuration: where and how to reach the catalog provider (none: the LLM_*
    settings), with the deployment's HTTP settings. `llm/` never reads Django settings itself."""
    return ProviderConfig(
        base_url=settings.LLM_BASE_URL if provider is None else provider.base_url,
        api_key=settings.LLM_API_KEY if provider is None else provider.api_key(),
        headers=() if provider is None else tuple(sorted((provider.extra_headers or {}).items())),
        limits=HTTPLimits(
            connect_timeout=settings.LLM_CONNECT_TIMEOUT,
            first_byte_timeout=settings.LLM_FIRST_BYTE_TIMEOUT,
            idle_timeout=settings.LLM_IDLE_TIMEOUT,
            max_connections=settings.LLM_MAX_CONNECTIONS,
            max_keepalive=settings.LLM_MAX_KEEPALIVE,
        ),
        network=HTTPNetwork(
            proxy=settings.LLM_PROXY,
            ca_bundle=settings.LLM_CA_BUNDLE,
            client_cert=settings.LLM_CLIENT_CERT,
            client_key=settings.LLM_CLIENT_KEY,
            http2=settings.LLM_HTTP2,
            fast=settings.LLM_FAST_TRANSPORT,
        ),
        max_attempts=settings.LLM_MAX_ATTEMPTS,
        simulator=SimulatorDefaults(
            tps=settings.SIMULATOR_TOKENS_PER_SECOND,
            ttft=settings.SIMULATOR_FIRST_TOKEN_DELAY,
            tokens=settings.SIMULATOR_REPLY_TOKENS,
        ),
    )


def charged(running: Running, outcome: Outcome) -> dict[str, Any]:
    """The reply's usage (as reported, else estimated) and cost at the prices its model had at the
    start, as FinalState fields; nothing when no request reached the provider's text."""
    reported = outcome.finish.usage if outcome.finish else None
    if reported is None and not running.live.content:
        return {}
    usage = accounting.reply_usage(
        reported_prompt=reported.prompt_tokens if reported else None,
        reported_completion=reported.completion_tokens if reported else None,
        prompt_texts=running.prompt,
        completion_text=running.live.content,
        input_per_mtok=running.model.input_per_mtok,
        output_per_mtok=running.model.output_per_mtok,
    )
    return {
        "usage": Usage(usage.prompt_tokens, usage.completion_tokens),
        "cost_usd": str(usage.cost_usd),
        "estimated": usage.estimated,
    }


class Outcome:
    """How a generation ended; filled in as it runs."""

    __slots__ = ("error", "finish", "status")

    def __init__(self) -> None:
        self.status = Status.COMPLETE
        self.error = ""
        self.finish: Finish | None = None

    def failed(self, message: str, status: str = Status.FAILED) -> None:
        self.status, self.error = status, message

    def stopped(self, *, interrupted: bool) -> None:
        if interrupted:
            self.failed(replies.INTERRUPTED_ERROR, Status.INTERRUPTED)
        else:
            self.status = Status.CANCELLED


@dataclasses.dataclass(slots=True, eq=False)
class Running:
    """One reply running in this process."""

    reply: Message
    live: LiveReply
    model: LLMModel  # the catalog model this reply asks, with its provider, as it was at the start
    options: Options  # the upstream model name and sampling
    task: asyncio.Task | None = None
    started: bool = False  # its task took its first step: from then on a stop cancels it
    stopped: bool = False
    finishing: bool = False  # its stream ended and its final state is being saved: nothing left to stop
    interrupted: bool = False  # stopped because the server is going away, not by a user
    parts: list[Part] = dataclasses.field(default_factory=list)  # saved at tool events (parts.py)
    prompt: list[str] = dataclasses.field(default_factory=list)  # the history's texts, to estimate usage by
    first_message: str | None = None  # set for a conversation's first reply: it may name the chat


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
                await stream(running, history, outcome, functools.partial(self.record_parts, running))
        except asyncio.CancelledError:
            outcome.stopped(interrupted=running.interrupted)
        finally:
            await asyncio.shield(self.finish(running, outcome))

    async def finish(self, running: Running, outcome: Outcome) -> None:
        """Publish the last text, save the final state once, then announce it."""
        running.finishing = True
        live = running.live
        self.broadcaster.drain(live)
        final = FinalState(
            content=live.content,
            seq=live.seq,
            status=outcome.status,
            error=outcome.error,
            model=outcome.finish.model if outcome.finish else "",
            parts=running.parts,
            **charged(running, outcome),
        )
        try:
            saved = await final_save.save(running.reply, final, redis=self.redis, closing=self.closing)
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

    def announce_finished(self, reply: Message) -> None:
        completed = protocol.completed_frame(protocol.message_payload(reply))
        self.broadcaster.publish(
            conversation_group(reply.conversation_id), frame_message(completed, done=str(reply.id))
        )

    async def record_parts(self, running: Running, new_parts: list[Part]) -> None:
        """A tool event: the text before it goes out first, then the parts are saved and announced
        (saved before announced, so a snapshot that misses them is followed by their frame)."""
        live = running.live
        self.broadcaster.drain(live)
        running.parts = [*parts_view(running.parts, live.content), *new_parts]
        await database_sync_to_async(replies.reply_parts_save)(reply_id=running.reply.id, parts=running.parts)
        self.broadcaster.publish(live.group, frame_message(protocol.parts_frame(live.id_str, running.parts)))

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


async def stream(running: Running, history: list[ChatMessage], outcome: Outcome, record: Record) -> None:
    """Feed the provider's text into the live reply, within the deadline; record how it ended."""
    try:
        async with asyncio.timeout(settings.PARLEY_GENERATION_DEADLINE):
            outcome.finish = await respond(running, history, record)
    except TimeoutError:
        metrics.UPSTREAM_ERRORS.labels(provider=running.model.provider.name, code="deadline").inc()
        outcome.failed(DeadlineExceeded().user_message)
    except ToolStepsExceeded as error:
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


async def respond(running: Running, history: list[ChatMessage], record: Record) -> Finish:
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
        max_steps=settings.PARLEY_TOOL_MAX_STEPS,
    )


_workers: dict[asyncio.AbstractEventLoop, Worker] = {}
metrics.RUNNING_REPLIES.set_function(lambda: sum(len(worker.running) for worker in list(_workers.values())))


async def get_worker() -> Worker:
    """This event loop's worker, started on first use."""
    loop = asyncio.get_running_loop()
    if loop not in _workers:
        layer = get_channel_layer()
        channel = await layer.new_channel("parley.worker.")
        if loop not in _workers:  # another caller may have won the race while we awaited
            _workers[loop] = Worker(layer, new_broadcaster(layer), channel)
            _workers[loop].start()
    return _workers[loop]


def new_broadcaster(layer: Any) -> Broadcaster:
    """With Redis, the broadcaster writes resume state on a connection of its own, and sends a
    whole flush in one script call where chatsite/compat.py has verified the layer's channel naming."""
    if not settings.REDIS_URL:
        return Broadcaster(layer, settings.PARLEY_FLUSH_INTERVAL)
    redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    verified = compat.group_channel_name(layer, "") is not None
    route = functools.partial(compat.group_channel_name, layer) if verified else None
    return Broadcaster(layer, settings.PARLEY_FLUSH_INTERVAL, redis, redis_channel=route, local=local.sockets)


async def warm_up() -> None:
    """Start this process's worker now, so its first sweep recovers replies orphaned by a crash
    even if no socket ever connects, and build the provider and its HTTP client before the first reply."""
    await (await get_worker()).broadcaster.prepare()
    await database_sync_to_async(load_catalog)()
    config = provider_config()
    get_http_client(config.limits, config.network)


def load_catalog() -> None:
    """At start-up: load PARLEY_MODELS_FILE if set, else make sure the catalog is not empty."""
    if settings.PARLEY_MODELS_FILE:
        report = load_models_file(settings.PARLEY_MODELS_FILE)
        logger.info("Loaded %s: %s", settings.PARLEY_MODELS_FILE, report)
    ensure_catalog()


async def shut_down(*, interrupted: bool = False) -> None:
    """Stop this loop's worker (running replies keep their text), then release upstream connections."""
    worker = _workers.pop(asyncio.get_running_loop(), None)
    if worker is not None:
        await worker.shutdown(interrupted=interrupted)
    await close_http_clients()
    await stop_in_process_simulator()
    await asyncio.to_thread(close_tool_threads)
