"""A minimal single-reader message queue, for per-connection buffers that are mostly empty."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class Inbox:
    """Unread messages for one reader: the part of asyncio.Queue a channel or a socket uses.

    Every socket owns a channel and a daphne application queue, so this is per-connection
    memory; a Queue carries four deques and an Event from birth, while an idle
    socket's inbox holds two empty slots. chatsite/compat.py puts it in place of the Queue that
    daphne and channels-redis would create.
    """

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[Any] | None = None  # created on the first message
        self.waiter: asyncio.Future | None = None  # the one receive() waiting, if any

    def put_nowait(self, item: Any) -> None:
        if self.items is None:
            self.items = deque()
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> Any:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        item = self.items.popleft()
        if not self.items:
            self.items = None  # a connection gone quiet keeps no 64-slot block allocated
        return item
