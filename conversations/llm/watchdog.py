"""The deadline of one streamed reply: a timer that cancels the reading task, on an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the watchdog needs of an event loop; tests pass a clock they move by hand."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer: ...


class Watchdog:
    """Cancels the reading task once `deadline` passes on `clock` (the running loop by default).

    Moving the deadline is one float store per event; the timer re-arms itself lazily, so the
    hot path never creates a timeout context or touches the loop's timer heap.
    """

    def __init__(self, timeout: float, clock: Clock | None = None) -> None:
        self.clock = clock if clock is not None else asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.deadline = self.clock.time() + timeout
        self.fired = False
        self.arm()

    def arm(self) -> None:
        self.armed_at = self.deadline
        self.handle = self.clock.call_at(self.deadline, self.check)

    def move(self, timeout: float) -> None:
        """Push the deadline to `timeout` from now; only an earlier one needs the timer moved."""
        self.deadline = self.clock.time() + timeout
        if self.deadline < self.armed_at:
            self.handle.cancel()
            self.arm()

    def check(self) -> None:
        if self.clock.time() >= self.deadline:
            self.fired = True
            self.task.cancel()  # type: ignore[union-attr]
        else:
            self.arm()

    def raise_if_fired(self) -> None:
        """Turn our own cancellation into a timeout; leave anyone else's alone."""
        if self.fired:
            self.fired = False
            self.task.uncancel()  # type: ignore[union-attr]
            raise TimeoutError

    def close(self) -> None:
        self.handle.cancel()
