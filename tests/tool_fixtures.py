"""Tools the tool-loop tests register through PARLEY_TOOLS, by dotted path like any deployment's."""

from __future__ import annotations

import asyncio
import threading

from conversations.models import Message
from conversations.tools.schema import ToolContext


class Gate:
    """Lets a test hold a tool mid-call and see that it started; reset per test."""

    started: asyncio.Event | None = None
    release: asyncio.Event | None = None
    thread_ids: list[int] = []

    @classmethod
    def reset(cls) -> None:
        cls.started, cls.release, cls.thread_ids = asyncio.Event(), asyncio.Event(), []


async def held(note: str) -> str:
    """Wait until the test releases it, then answer.

    Args:
        note: Anything; it is echoed back.
    """
    Gate.started.set()
    await Gate.release.wait()
    return f"released {note}"


def broken(reason: str) -> str:
    """Always raise.

    Args:
        reason: The message of the error.
    """
    raise RuntimeError(reason)


def count_messages(context: ToolContext) -> int:
    """Count the messages of the conversation the reply is in, with the ORM, in a worker thread."""
    Gate.thread_ids.append(threading.get_ident())
    return Message.objects.filter(conversation_id=context.conversation_id).count()


def slow(seconds: float) -> str:
    """Block its thread for a while.

    Args:
        seconds: How long to sleep.
    """
    threading.Event().wait(seconds)
    return "done"
