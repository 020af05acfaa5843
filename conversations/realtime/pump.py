"""A lighter replacement for Channels' `await_many_dispatch`, used by the conversation consumer.

Channels waits on its sources with `asyncio.wait`, which adds and removes a callback on every
pending task for every message; for a socket relaying tens of deltas a second that bookkeeping
was a visible share of the profile. Here each pending receive reports itself through a done
callback, so a message costs one task, as in Channels, and nothing else. Handlers still run one
at a time, in arrival order, as Channels guarantees; an idle socket holds two pending tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Source = Callable[[], Awaitable[dict[str, Any]]]


async def pump(sources: list[Source], dispatch: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    loop = asyncio.get_running_loop()
    # Indexes of sources whose pending receive has completed: never more than two, so a list
    # (a deque allocates a 64-slot block up front, 0.6 KB on every idle socket).
    finished: list[int] = []
    wakeup: list[asyncio.Future | None] = [None]

    def on_done(index: int, _task: asyncio.Task) -> None:
        finished.append(index)
        if wakeup[0] is not None and not wakeup[0].done():
            wakeup[0].set_result(None)

    def receive(index: int) -> asyncio.Task:
        task = asyncio.ensure_future(sources[index]())
        task.add_done_callback(lambda done: on_done(index, done))
        return task

    pending = [receive(index) for index in range(len(sources))]
    try:
        while True:
            if not finished:
                wakeup[0] = loop.create_future()
                await wakeup[0]
                wakeup[0] = None
            index = finished.pop(0)
            message = pending[index].result()  # re-raises a source's exception, as Channels does
            pending[index] = receive(index)
            await dispatch(message)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
