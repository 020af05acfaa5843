"""Group commit: requests that arrive while a batch is being saved are saved together in the
next one, so a burst costs a few round trips, not one each. An idle caller's request is saved at
once, as a batch of one; under a burst the batches grow by themselves, one in flight at a time.

Reply starts and final saves (generation/worker.py) and the fair-use ledger's Redis scripts
(realtime/fairness.py) are saved this way.

A batcher whose batches run on a thread of their own (the database's) can `rest` between batches
while a burst lasts, as long as its last batch took (at most REST_MAX): a batch's cost is mostly
fixed, so batches twice as large halve it, and the thread holds the GIL that the sockets' event
loop needs at most half the time (docs/performance.md, "Resting between batches").
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")

REST_MAX = 0.05  # seconds: a slow batch (a database hiccup) never makes the next one wait longer


class GroupCommit(Generic[Request, Result]):
    """Collects requests and saves them in batches of at most `limit`, one batch at a time.

    `save` answers a batch with one outcome per request, in order: a result, or an exception
    raised to that request's caller alone. A save that raises fails every request of its batch."""

    def __init__(
        self,
        save: Callable[[list[Request]], Awaitable[list[Result | Exception]]],
        limit: int,
        *,
        rest: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.save = save
        self.limit = limit
        self.rest = rest  # between batches of a burst, wait as long as the last one took
        self.clock = clock  # times a batch, for the rest after it
        self.batches = 0  # batches begun, for a watcher of the load (the broadcaster's hold)
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
                self.batches += 1
                began = self.clock()
                await self.save_batch(batch)
                if self.rest and 0 < len(self.waiting) < self.limit:  # a burst: let the next batch grow
                    await asyncio.sleep(min(self.clock() - began, REST_MAX))
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
