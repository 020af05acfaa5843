"""A running reply's tool parts, saved at each tool event so that a snapshot read anywhere shows them.

A database blip there must neither fail the reply nor lose its parts. The save is tried once in
line (saved before announced, as usual); while the database is away it is retried in the
background with the final save's backoff, each attempt saving the newest parts, until it
succeeds, the reply finishes (its final save carries every part) or the process shuts down.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine

from channels.db import database_sync_to_async
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from .. import metrics, replies
from ..realtime import final_save
from .running import Running

logger = logging.getLogger(__name__)

Spawn = Callable[[Coroutine, str], asyncio.Task]


async def save(running: Running, *, spawn: Spawn, closing: asyncio.Event) -> None:
    """Save the reply's parts now, or leave them to a background retry while the database is away."""
    if running.parts_retry is not None and not running.parts_retry.done():
        return  # the retry under way saves the newest parts
    try:
        await save_newest(running)
    except final_save.TRANSIENT as error:
        failed()
        logger.warning("Saving the tool parts of reply %s failed (%s); retrying meanwhile", running.reply.id, error)
        running.parts_retry = spawn(retry(running, closing), f"parley-parts-{running.live.id_str}")


async def retry(running: Running, closing: asyncio.Event) -> None:
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(final_save.TRANSIENT),
        wait=final_save.BACKOFF,
        stop=lambda _: closing.is_set() or running.finishing,
        sleep=functools.partial(final_save.pause, closing),
        before_sleep=failed,
        reraise=True,
    )
    try:
        await retrying(save_newest, running)
    except final_save.TRANSIENT:
        logger.info("Tool parts of reply %s left to its final save", running.reply.id)


async def save_newest(running: Running) -> None:
    reply = running.reply
    await database_sync_to_async(replies.reply_parts_save)(
        reply_id=reply.id, conversation_id=reply.conversation_id, parts=running.parts
    )


def failed(attempt: RetryCallState | None = None) -> None:
    metrics.DATABASE_ERRORS.labels(operation="reply_parts_save").inc()
