"""The tool loop of one reply: the model asks, the tools run, the results go back, the model goes on.

It runs inside the reply's generation task (conversations/generation/worker.py), so a stop cancels it
wherever it is: mid-stream, or while a tool runs. Each tool event is handed to `record`, which
publishes and saves the reply's parts; the text of every step streams into the same live reply,
a new step's text set apart from the last by `parts.SEPARATOR`. While the model writes a call, it
is shown through `show` (preview.py) before it is saved and run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence

from ..llm.base import ChatMessage, Finish, Options, Provider, Usage
from ..parts import SEPARATOR, Part, tool_call_part, tool_result_part
from ..realtime.broadcast import LiveReply
from .preview import CallPreview, Show
from .registry import Tool
from .runner import run_call
from .schema import ToolContext

Record = Callable[[list[Part]], Awaitable[None]]


class ToolStepsExceeded(Exception):
    """The model still asked for tools after the last allowed round."""

    def __init__(self, steps: int) -> None:
        super().__init__(f"The model kept calling tools after {steps} rounds; the reply stopped there.")
        self.user_message = str(self)


async def respond_with_tools(
    provider: Provider,
    history: Sequence[ChatMessage],
    options: Options,
    live: LiveReply,
    *,
    tools: dict[str, Tool],
    context: ToolContext,
    record: Record,
    show: Show,
    max_steps: int,
    preview_interval: float,
) -> Finish:
    """Stream steps until the model answers without asking for a tool; the last step's Finish,
    with the usage of every step added up. Calls show (`show`) while the model writes them."""
    turns = list(history)
    options = dataclasses.replace(options, tools=tuple(tool.spec for tool in tools.values()))
    usage: list[Usage] = []
    for step in range(max_steps + 1):
        said: list[str] = []
        preview = CallPreview(show, preview_interval)
        try:
            on_text = _step_text(live, said, new_step=step > 0)
            finish = await provider.stream_to(turns, options, on_text, preview.changed)
        finally:
            preview.close()
        if finish.usage is not None:
            usage.append(finish.usage)
        if not finish.tool_calls:
            return dataclasses.replace(finish, usage=_total(usage))
        if step == max_steps:
            raise ToolStepsExceeded(max_steps)
        await record([tool_call_part(call) for call in finish.tool_calls])
        turns.append({"role": "assistant", "content": "".join(said), "tool_calls": list(finish.tool_calls)})
        for call in finish.tool_calls:
            result = await run_call(call, tools, context)
            await record([tool_result_part(result)])
            turns.append({"role": "tool", "content": result.content, "tool_result": result})
    raise AssertionError("unreachable")


def _step_text(live: LiveReply, said: list[str], *, new_step: bool) -> Callable[[str], None]:
    """The text sink of one step: into the live reply (after a separator, for a later step's first
    text when there is text before it) and into the step's own record for the next request."""
    separate = new_step and bool(live.parts or live.pending)

    def on_text(text: str) -> None:
        nonlocal separate
        if separate:
            live.append(SEPARATOR)
            separate = False
        said.append(text)
        live.append(text)

    return on_text


def _total(usage: list[Usage]) -> Usage | None:
    if not usage:
        return None

    def add(values: list[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    return Usage(add([u.prompt_tokens for u in usage]), add([u.completion_tokens for u in usage]))
