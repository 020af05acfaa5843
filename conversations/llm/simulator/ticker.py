"""One shared timer per simulator server, so thousands of streams cost one event-loop timer.

Streams ask to be called back at a time; due callbacks within one quantum run together, and each
stream writes every token that is due in one write. That batching is what lets one core emit tens
of thousands of tokens per second across many streams.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Callable

QUANTUM = 0.002  # seconds; callbacks due within this much of each other run in the same pass


class Ticker:
    def __init__(self, loop: asyncio.AbstractEventLoop, quantum: float = QUANTUM) -> None:
        self._loop = loop
        self._quantum = quantum
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._order = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = math.inf

    def call_at(self, when: float, callback: Callable[[float], None]) -> None:
        """Run `callback(now)` at `when`, where `now` is never earlier than `when`."""
        heapq.heappush(self._heap, (when, next(self._order), callback))
        if when < self._armed_for:
            self._arm(when)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._heap.clear()

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(when, self._run)
        self._armed_for = when

    def _run(self) -> None:
        self._handle = None
        self._armed_for = math.inf
        heap = self._heap
        horizon = self._loop.time() + self._quantum
        while heap and heap[0][0] <= horizon:
            when, _, callback = heapq.heappop(heap)
            callback(max(when, self._loop.time()))
        if heap:
            self._arm(heap[0][0])
