"""A lighter replacement for Channels' `await_many_dispatch`, used by the conversation consumer.

Channels waits on its sources with `asyncio.wait` and creates a new task per message; for a
socket relaying tens of deltas a second that bookkeeping was a visible share of the profile.
Here each source runs in one long-lived task feeding a one-slot queue, so a message costs a
queue hand-off. Handlers still run one at a time, in arrival order, as Channels guarantees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Source = Callable[[], Awaitable[dict[str, Any]]]


class SourceFailed:
    """Carries a source's exception to the dispatching task, which re-raises it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def feed(source: Source, inbox: asyncio.Queue) -> None:
    try:
        while True:
            await inbox.put(await source())
    except asyncio.CancelledError:
        raise
    except BaseException as error:  # handed over and re-raised where Channels would raise it
        await inbox.put(SourceFailed(error))


async def pump(sources: list[Source], dispatch: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    inbox: asyncio.Queue = asyncio.Queue(maxsize=1)
    feeders = [asyncio.ensure_future(feed(source, inbox)) for source in sources]
    try:
        while True:
            message = await inbox.get()
            if type(message) is SourceFailed:
                raise message.error
            await dispatch(message)
    finally:
        for feeder in feeders:
            feeder.cancel()
        await asyncio.gather(*feeders, return_exceptions=True)
