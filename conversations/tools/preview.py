"""A step's tool calls shown to every tab while the model is still writing them, before they run.

The provider's parser tells `changed` of each fragment (a call's name, a piece of its arguments);
a call that gets its name is shown at once, and arguments that grow after it are shown at most
once per `interval`, the way a reply's text is coalesced. Nothing is saved here: the calls are
saved, and shown finished, when the step ends (loop.py), so a preview costs no database write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..llm.base import StreamingCalls
from ..parts import Part, tool_call_part

Show = Callable[[list[Part]], None]


class CallPreview:
    def __init__(
        self, show: Show, interval: float, call_later: Callable[..., asyncio.TimerHandle] | None = None
    ) -> None:
        self.show = show  # publishes the reply's parts with these calls after them
        self.interval = interval
        self.call_later = call_later or asyncio.get_running_loop().call_later  # the clock, injected in tests
        self.calls: StreamingCalls | None = None
        self.shown = 0  # calls with a name already shown
        self.timer: asyncio.TimerHandle | None = None

    def changed(self, calls: StreamingCalls) -> None:
        """A fragment arrived (per chunk, so cheap): a new named call shows now, the rest later."""
        self.calls = calls
        if calls.named() > self.shown:
            self.flush()
        elif self.timer is None:
            self.timer = self.call_later(self.interval, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.calls is None:
            return
        named = [call for call in self.calls.so_far() if call.name]
        self.shown = len(named)
        if named:
            self.show([{**tool_call_part(call), "streaming": True} for call in named])

    def close(self) -> None:
        """The step ended: nothing more is shown from it (its calls are saved and shown whole)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.calls = None
