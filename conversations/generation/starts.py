"""Group commit of reply starts: the starts that arrive while a batch is being saved are saved
together in the next one (replies/together.py), so a burst costs a few transactions, not one each.

An idle process saves a start at once, as a batch of one; under a burst the batches grow by
themselves, one in flight at a time. Batches run on a thread of their own with its own database
connection, so a start never waits behind checkpoints and final saves on channels' shared
database thread, nor behind a sync view holding that thread while it waits for its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from .. import replies
from ..replies.together import Outcome, StartRequest

BATCH_MAX = 100  # starts per transaction: bounds its statements' parameters and how long it holds locks
CLOSE_WAIT = 5.0  # seconds closing the thread waits for a batch still being saved

SaveBatch = Callable[[list[StartRequest]], Awaitable[list[Outcome]]]


class StartBatcher:
    """Collects reply starts and saves them in batches, one batch at a time."""

    def __init__(self, save: SaveBatch | None = None) -> None:
        self.save = save or save_in_thread
        self.waiting: list[tuple[StartRequest, asyncio.Future]] = []  # in arrival order
        self.saving: asyncio.Task | None = None  # the task saving batches while starts wait

    async def start(self, request: StartRequest) -> replies.ReplyStart:
        """Save this start with whichever others are waiting, and return its reply (or raise its refusal)."""
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((request, future))
        if self.saving is None:
            # A context of its own: the batch outlives the request that began it (see Worker.spawn).
            self.saving = asyncio.get_running_loop().create_task(self.drain(), context=contextvars.Context())
        return await future

    async def drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
                await self.save_batch(batch)
        except asyncio.CancelledError:  # the loop is closing: nobody waits for these any more
            for _, future in self.waiting:
                future.cancel()
            self.waiting = []
            raise
        finally:
            self.saving = None

    async def save_batch(self, batch: list[tuple[StartRequest, asyncio.Future]]) -> None:
        try:
            outcomes = await self.save([request for request, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # the batch's thread call failed as a whole: each start sees it
            outcomes = [error] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller went away
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


@functools.cache
def start_thread() -> ThreadPoolExecutor:
    """The process's thread for saving starts, created on first use."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-starts")


async def save_in_thread(requests: list[StartRequest]) -> list[Outcome]:
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
