"""Saving a finished reply whatever fails when: retried while the database is away, else handed off.

`Worker.finish` calls `save` once per reply. A save that fails because the database cannot be
reached is retried with capped exponential backoff until it succeeds, for as long as the process
runs. After the first failure the final state is also handed to the recovery path (recovery.py),
so a crash while retrying loses nothing; a shutdown, or a failure no retry can mend, ends the
retries and leaves the reply to the sweep of whichever process runs next.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from django.db import InterfaceError, OperationalError
from redis import asyncio as aioredis
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from .. import metrics, replies
from ..models import Message
from ..replies import FinalState
from . import recovery

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError)  # the database is unreachable: a retry can succeed
FIRST_WAIT = 0.2  # seconds before the first retry, plus up to as much jitter; doubling up to MAX_WAIT
MAX_WAIT = 5.0
BACKOFF = wait_exponential_jitter(multiplier=FIRST_WAIT, max=MAX_WAIT, jitter=FIRST_WAIT)  # also for tool parts


async def save(
    reply: Message,
    final: FinalState,
    *,
    finish: Callable[[replies.ReplyEnd], Awaitable[Message | None]],
    redis: aioredis.Redis | None,
    closing: asyncio.Event,
) -> Message | None:
    """The saved reply; None when it was finished elsewhere already, or is left to the recovery path.
    `finish` saves it once (the worker's batches of final saves)."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT),
        wait=BACKOFF,
        stop=lambda _: closing.is_set(),
        sleep=functools.partial(pause, closing),
        before_sleep=functools.partial(failed_once_more, redis, reply, final),
        reraise=True,
    )
    try:
        saved = await retrying(finish, replies.ReplyEnd(reply, final))
    except Exception:
        logger.exception("Could not save the final state of reply %s; it is left to the recovery path", reply.id)
        metrics.DATABASE_ERRORS.labels(operation="reply_finish").inc()
        await recovery.hand_off(redis, reply.id, final)
        return None
    attempts = retrying.statistics.get("attempt_number", 1)
    if attempts > 1:
        logger.info("Saved the final state of reply %s at attempt %d", reply.id, attempts)
        with contextlib.suppress(Exception):  # a hand-off left behind expires, and is never newer than the row
            await recovery.forget(redis, reply.id)
    return saved


async def failed_once_more(
    redis: aioredis.Redis | None, reply: Message, final: FinalState, attempt: RetryCallState
) -> None:
    """Count each failed attempt; after the first, hand the reply off in case this process dies."""
    metrics.DATABASE_ERRORS.labels(operation="reply_finish").inc()
    if attempt.attempt_number == 1:
        error = attempt.outcome.exception() if attempt.outcome else None
        logger.warning("Saving reply %s failed (%s); retrying until the database answers", reply.id, error)
        await recovery.hand_off(redis, reply.id, final)


async def pause(closing: asyncio.Event, seconds: float) -> None:
    """The wait between retries, cut short by a shutdown."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closing.wait(), seconds)
