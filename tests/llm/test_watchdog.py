"""The reply deadline on a clock the test moves by hand: no sleeping, no wall-clock windows."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from conversations.llm.watchdog import Watchdog


@dataclass
class Timer:
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """`time()` and `call_at()` like a loop's, but time moves only when `advance` says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[tuple[float, int, Timer]] = []
        self.order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        timer = Timer(callback)
        heapq.heappush(self.timers, (when, next(self.order), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time on, running every timer that comes due, in order."""
        self.now += seconds
        while self.timers and self.timers[0][0] <= self.now:
            _, _, timer = heapq.heappop(self.timers)
            if not timer.cancelled:
                timer.callback()

    @property
    def pending(self) -> int:
        return sum(not timer.cancelled for _, _, timer in self.timers)


async def reader(clock: ManualClock, timeout: float, started: asyncio.Event, events: asyncio.Queue) -> str:
    """A reading task: waits for events, moving the deadline `timeout` on after each."""
    watchdog = Watchdog(timeout, clock)
    started.set()
    try:
        while True:
            try:
                idle = await events.get()
            except asyncio.CancelledError:
                watchdog.raise_if_fired()
                raise
            watchdog.move(idle)
    except TimeoutError:
        return f"timed out at {clock.time() - 1000.0:g}"
    finally:
        watchdog.close()


@pytest.fixture
async def watched():
    """Start `reader` on a manual clock; returns (clock, task, events queue)."""
    tasks: list[asyncio.Task] = []

    async def start(timeout: float):
        clock, started, events = ManualClock(), asyncio.Event(), asyncio.Queue()
        tasks.append(asyncio.create_task(reader(clock, timeout, started, events)))
        await started.wait()
        return clock, tasks[-1], events

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_first_deadline_fires_as_a_timeout_in_the_reading_task(watched) -> None:
    clock, task, _ = await watched(5.0)
    clock.advance(4.9)
    assert clock.pending == 1 and task.cancelling() == 0
    clock.advance(0.1)
    assert task.cancelling() == 1
    assert await task == "timed out at 5"


async def test_each_event_moves_the_deadline_on_without_rearming_the_timer(watched) -> None:
    clock, task, events = await watched(5.0)
    for _ in range(3):
        clock.advance(4.0)
        events.put_nowait(5.0)
        await asyncio.sleep(0)  # let the reader take it
    assert clock.pending == 1  # a later deadline re-arms lazily, when the old timer comes due
    clock.advance(4.0)  # 16 s in: each timer that came due found the deadline moved and re-armed
    assert task.cancelling() == 0
    clock.advance(1.0)
    assert await task == "timed out at 17"


async def test_a_shorter_idle_bound_moves_the_timer_earlier(watched) -> None:
    clock, task, events = await watched(60.0)
    events.put_nowait(2.0)
    await asyncio.sleep(0)
    clock.advance(2.0)
    assert await task == "timed out at 2"


async def test_someone_elses_cancellation_stays_a_cancellation(watched) -> None:
    clock, task, _ = await watched(5.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending == 0  # closed: its timer was cancelled
