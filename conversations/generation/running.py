"""One running reply's state and how it ended, with what it cost."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from .. import accounting, replies
from ..llm.base import Finish, Options, Usage
from ..models import LLMModel, Message
from ..parts import Part
from ..realtime.broadcast import LiveReply

Status = Message.Status


class Outcome:
    """How a generation ended; filled in as it runs."""

    __slots__ = ("error", "finish", "status")

    def __init__(self) -> None:
        self.status = Status.COMPLETE
        self.error = ""
        self.finish: Finish | None = None

    def failed(self, message: str, status: str = Status.FAILED) -> None:
        self.status, self.error = status, message

    def stopped(self, *, interrupted: bool) -> None:
        if interrupted:
            self.failed(replies.INTERRUPTED_ERROR, Status.INTERRUPTED)
        else:
            self.status = Status.CANCELLED


@dataclasses.dataclass(slots=True, eq=False)
class Running:
    """One reply running in this process."""

    reply: Message
    live: LiveReply
    model: LLMModel  # the catalog model this reply asks, with its provider, as it was at the start
    options: Options  # the upstream model name and sampling
    task: asyncio.Task | None = None
    started: bool = False  # its task took its first step: from then on a stop cancels it
    stopped: bool = False
    finishing: bool = False  # its stream ended and its final state is being saved: nothing left to stop
    interrupted: bool = False  # stopped because the server is going away, not by a user
    parts: list[Part] = dataclasses.field(default_factory=list)  # saved at tool events (parts.py)
    preview: list[Part] | None = None  # the parts last announced with calls still being written, until they are saved
    parts_retry: asyncio.Task | None = None  # saving the parts again while the database is away (tool_parts.py)
    prompt: list[str] = dataclasses.field(default_factory=list)  # the history's texts, to estimate usage by
    first_message: str | None = None  # set for a conversation's first reply: it may name the chat


def charged(running: Running, outcome: Outcome) -> dict[str, Any]:
    """The reply's usage (as reported, else estimated) and cost at the prices its model had at the
    start, as FinalState fields; nothing when no request reached the provider's text."""
    reported = outcome.finish.usage if outcome.finish else None
    if reported is None and not running.live.content:
        return {}
    usage = accounting.reply_usage(
        reported_prompt=reported.prompt_tokens if reported else None,
        reported_completion=reported.completion_tokens if reported else None,
        prompt_texts=running.prompt,
        completion_text=running.live.content,
        input_per_mtok=running.model.input_per_mtok,
        output_per_mtok=running.model.output_per_mtok,
    )
    return {
        "usage": Usage(usage.prompt_tokens, usage.completion_tokens),
        "cost_usd": str(usage.cost_usd),
        "estimated": usage.estimated,
    }
