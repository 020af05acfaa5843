"""One /v1/ completion in flight, whatever produces its text.

A producer (a direct provider stream, or a persisted reply being watched) puts text on the call's
queue and ends it once with an `End`. The view reads batches off the queue: everything queued
since the last read is sent as one chunk, so a slow client costs one write per read, not per token.
Ending a call from outside (its token revoked or expired) puts the `End` and cancels the producer,
so the response finishes at once with an error instead of being cut.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable

from ..llm.base import Usage
from . import shapes


@dataclasses.dataclass(frozen=True, slots=True)
class End:
    """How a call ended: OpenAI's finish_reason, or an error body for a failure."""

    finish_reason: str = "stop"
    usage: Usage | None = None
    model: str = ""
    error: dict | None = None  # {"message", "type", "code"}, OpenAI's shape
    status: int = 502  # the HTTP status of that error, when nothing was sent yet


def failure(message: str, code: str, status: int = 502, kind: str = "api_error") -> End:
    return End(error={"message": message, "type": kind, "code": code, "param": None}, status=status)


class Call:
    def __init__(self, model: str, token_id: str) -> None:
        self.id = shapes.completion_id()
        self.model = model
        self.token_id = token_id  # the watcher ends the call when this token ends
        self.conversation_id: str | None = None
        self.queue: asyncio.Queue[str | End] = asyncio.Queue()
        self.producer: asyncio.Task | None = None
        self.expiry: asyncio.TimerHandle | None = None  # ends the call when its token expires
        self.on_cut: Callable[[], object] | None = None  # what else a cut stops (a saved reply)
        self.ended = False

    def put_text(self, text: str) -> None:
        if not self.ended:
            self.queue.put_nowait(text)

    def end(self, end: End) -> None:
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(end)

    def cut(self, end: End) -> None:
        """End it from outside, now, and stop what feeds it."""
        self.end(end)
        if self.producer is not None:
            self.producer.cancel()
        if self.on_cut is not None:
            self.on_cut()

    def abandon(self) -> None:
        """The client went away: stop the producer. A direct call's upstream request ends with it;
        a persisted reply runs on, as only the watching stops."""
        if self.producer is not None and not self.producer.done():
            self.producer.cancel()

    async def batches(self) -> AsyncIterator[tuple[str, End | None]]:
        """The text queued since the last read, and the End once it came."""
        while True:
            parts = [await self.queue.get()]
            while not self.queue.empty() and not isinstance(parts[-1], End):
                parts.append(self.queue.get_nowait())
            end = parts.pop() if isinstance(parts[-1], End) else None
            yield "".join(parts), end
            if end is not None:
                return

    async def collect(self) -> tuple[str, End]:
        texts = []
        async for text, end in self.batches():
            texts.append(text)
            if end is not None:
                return "".join(texts), end
        raise AssertionError("a call always ends with an End")  # pragma: no cover


def finish_reason(reason: str | None) -> str:
    """Vendors' words for "cut at the token limit" become OpenAI's `length`; anything else `stop`."""
    return "length" if reason in {"length", "max_tokens"} else "stop"
