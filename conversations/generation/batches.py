"""Group commit (group_commit.py) of reply starts and final saves (replies/together.py,
replies/ending.py), so a burst costs a few transactions, not one each.

Starts run on a thread of their own with its own database connection, so a start never waits
behind checkpoints and final saves on channels' shared database thread, nor behind a sync view
holding that thread while it waits for its start. Final saves stay on that shared thread, beside
the checkpoints of the same replies.
"""

from __future__ import annotations

import contextlib
import functools
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import close_old_connections, connections, router

from .. import replies
from ..group_commit import GroupCommit
from ..models import Message
from ..replies.together import Outcome, StartRequest

START_BATCH_MAX = 300  # starts per transaction: bounds its statements and how long it holds locks
FINISH_BATCH_MAX = 100  # final saves per transaction, for the same reasons
CLOSE_WAIT = 5.0  # seconds closing the start thread waits for a batch still being saved


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


async def open_start_thread() -> None:
    """At start-up: open the start thread's database connection, which the first send would wait for."""
    await sync_to_async(_connect, thread_sensitive=False, executor=start_thread())()


def _connect() -> None:
    connections[router.db_for_write(Message)].ensure_connection()


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
