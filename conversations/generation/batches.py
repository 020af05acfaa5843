"""Group commit of reply starts and final saves: what arrives while a batch is being saved is saved
together in the next one (replies/together.py, replies/ending.py), so a burst costs a few
transactions, not one each.

An idle process saves a start or a finish at once, as a batch of one; under a burst the batches
grow by themselves, one in flight at a time per kind. Starts run on a thread of their own with its
own database connection, so a start never waits behind checkpoints and final saves on channels'
shared database thread, nor behind a sync view holding that thread while it waits for its start.
Final saves stay on that shared thread, beside the checkpoints of the same replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import close_old_connections, connections

from .. import replies
from ..models import Message
from ..replies.together import Outcome, StartRequest

Request = TypeVar("Request")
Result = TypeVar("Result")

START_BATCH_MAX = 100  # starts per transaction: bounds its statements' parameters and how long it holds locks
FINISH_BATCH_MAX = 100  # final saves per transaction, for the same reasons
CLOSE_WAIT = 5.0  # seconds closing the start thread waits for a batch still being saved


class GroupCommit(Generic[Request, Result]):
    """Collects requests and saves them in batches of at most `limit`, one batch at a time.

    `save` answers a batch with one outcome per request, in order: a result, or an exception
    raised to that request's caller alone. A save that raises fails every request of its batch."""

    def __init__(self, save: Callable[[list[Request]], Awaitable[list[Result | Exception]]], limit: int) -> None:
        self.save = save
        self.limit = limit
        self.waiting: list[tuple[Request, asyncio.Future]] = []  # in arrival order
        self.saving: asyncio.Task | None = None  # the task saving batches while requests wait

    async def submit(self, request: Request) -> Result:
        """Save this request with whichever others are waiting; its result, or its exception raised."""
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((request, future))
        if self.saving is None:
            # A context of its own: the batch outlives the request that began it (see Worker.spawn).
            self.saving = asyncio.get_running_loop().create_task(self.drain(), context=contextvars.Context())
        return await future

    async def drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[: self.limit], self.waiting[self.limit :]
                await self.save_batch(batch)
        except asyncio.CancelledError:  # the loop is closing: nobody waits for these any more
            for _, future in self.waiting:
                future.cancel()
            self.waiting = []
            raise
        finally:
            self.saving = None

    async def save_batch(self, batch: list[tuple[Request, asyncio.Future]]) -> None:
        try:
            outcomes = await self.save([request for request, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # the batch's save failed as a whole: each request sees it
            outcomes = [error] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller went away
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


def start_batches() -> GroupCommit[StartRequest, replies.ReplyStart]:
    return GroupCommit(save_starts, START_BATCH_MAX)


def finish_batches() -> GroupCommit[replies.ReplyEnd, Message | None]:
    return GroupCommit(save_finishes, FINISH_BATCH_MAX)


async def save_finishes(ends: list[replies.ReplyEnd]) -> list:
    return await database_sync_to_async(replies.replies_finish)(ends)


@functools.cache
def start_thread() -> ThreadPoolExecutor:
    """The process's thread for saving starts, created on first use."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-starts")


async def save_starts(requests: list[StartRequest]) -> list[Outcome]:
    return await sync_to_async(_saved, thread_sensitive=False, executor=start_thread())(requests)


def _saved(requests: list[StartRequest]) -> list[Outcome]:
    """One batch, with Django's connection housekeeping around it, as channels' database_sync_to_async does."""
    close_old_connections()
    try:
        return replies.replies_start(requests)
    finally:
        close_old_connections()


def close_start_thread() -> None:
    """Close the thread's database connection, then the thread (at shutdown, and after tests)."""
    if start_thread.cache_info().currsize == 0:
        return
    pool = start_thread()
    with contextlib.suppress(TimeoutError):  # a batch still being saved: its thread is left to finish
        pool.submit(connections.close_all).result(timeout=CLOSE_WAIT)
    pool.shutdown(wait=False, cancel_futures=True)
    start_thread.cache_clear()
