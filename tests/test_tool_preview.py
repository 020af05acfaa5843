"""A call shows while the model writes it: its name at once, its growing arguments coalesced to one
frame per interval (on an injected clock), nothing after the step ends."""

from __future__ import annotations

from conversations.llm.formats.tool_calls import ToolCallBuffer
from conversations.tools.preview import CallPreview


class Timers:
    """call_later on a clock the test moves: scheduled callbacks run only when `fire` is called."""

    def __init__(self) -> None:
        self.due: list[Timer] = []

    def __call__(self, delay: float, callback) -> Timer:
        timer = Timer(delay, callback)
        self.due.append(timer)
        return timer

    def fire(self) -> None:
        due, self.due = self.due, []
        for timer in due:
            if not timer.cancelled:
                timer.callback()


class Timer:
    def __init__(self, delay: float, callback) -> None:
        self.delay, self.callback, self.cancelled = delay, callback, False

    def cancel(self) -> None:
        self.cancelled = True


def preview() -> tuple[CallPreview, ToolCallBuffer, list, Timers]:
    shown: list = []
    timers = Timers()
    calls = ToolCallBuffer()
    watcher = CallPreview(shown.append, 0.05, call_later=timers)
    calls.on_change = watcher.changed
    return watcher, calls, shown, timers


def arguments(shown_parts: list) -> list[str]:
    return [part["arguments"] for part in shown_parts]


def test_a_named_call_shows_at_once_and_its_arguments_once_per_interval():
    _, calls, shown, timers = preview()
    calls.start(0, "call_1", "calculate")
    assert shown == [[{"type": "tool_call", "id": "call_1", "name": "calculate", "arguments": "", "streaming": True}]]
    calls.add_arguments(0, '{"expr')
    calls.add_arguments(0, 'ession": "6')
    assert len(shown) == 1 and [t.delay for t in timers.due] == [0.05]  # one timer for both fragments
    timers.fire()
    assert arguments(shown[-1]) == ['{"expression": "6']
    calls.add_arguments(0, '*7"}')
    timers.fire()
    assert arguments(shown[-1]) == ['{"expression": "6*7"}'] and len(shown) == 3


def test_a_second_call_shows_at_once_with_the_first():
    _, calls, shown, timers = preview()
    calls.start(0, "call_1", "calculate")
    calls.add_arguments(0, "{}")
    calls.start(1, "call_2", "current_time")
    assert [[p["name"] for p in parts] for parts in shown] == [["calculate"], ["calculate", "current_time"]]
    assert arguments(shown[-1]) == ["{}", ""]
    timers.fire()  # the timer the arguments set was taken by the immediate frame
    assert len(shown) == 2


def test_a_call_without_its_name_yet_is_not_shown():
    _, calls, shown, timers = preview()
    calls.add_arguments(0, '{"a": 1}')
    timers.fire()
    assert shown == []


def test_nothing_shows_after_the_step_ends():
    watcher, calls, shown, timers = preview()
    calls.start(0, "call_1", "calculate")
    calls.add_arguments(0, '{"expression": "1"}')
    watcher.close()
    timers.fire()
    assert len(shown) == 1
