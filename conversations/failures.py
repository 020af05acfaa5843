"""Infrastructure failures, mapped once to a protocol code and words a user understands.

A send must always be answered (docs/protocol.md): when PostgreSQL or Redis is down, or slower
than PARLEY_ANSWER_TIMEOUT, the socket answers `unavailable` and the API 503 with these words,
instead of `internal_error`, a 500 or silence. Anything not listed here is a bug: `internal_error`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = "unavailable"
# What the channel layer and the resume state raise while Redis is unreachable.
LINK_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

DATABASE_DOWN = "The database is not answering, so nothing was saved. Try again in a moment."
REDIS_DOWN = "Live sync (Redis) is not answering, so that could not be done. Try again in a moment."
TOO_SLOW = (
    "The server did not answer in time; a service may be down. It may still go through: "
    "sending the same message again never sends it twice."
)


def unavailable_detail(error: BaseException) -> str | None:
    """The words for a failure of a service Parley depends on, or None for anything else."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return DATABASE_DOWN
    if isinstance(error, TimeoutError):  # before LINK_ERRORS: Python's TimeoutError is an OSError
        return TOO_SLOW
    if isinstance(error, LINK_ERRORS):
        return REDIS_DOWN
    return None


async def answer_within(handling: Awaitable, timeout: float):
    """Await `handling` for at most `timeout` seconds, then raise TimeoutError (answered TOO_SLOW)
    while it runs on, shielded: a send that gets through late still streams, once, and is
    announced to the conversation's sockets as usual."""
    task = asyncio.ensure_future(handling)
    _late.add(task)
    task.add_done_callback(_late_done)
    async with asyncio.timeout(timeout):
        return await asyncio.shield(task)


_late: set[asyncio.Future] = set()  # handlings still running after their answer went out; held until done


def _late_done(task: asyncio.Future) -> None:
    _late.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.debug("A frame or request handled after its answer failed: %r", task.exception())
