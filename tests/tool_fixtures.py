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


async def stop_mid_call(worker, user, conversation) -> str:
    """Send a message whose reply calls `held`, stop the reply while the tool runs, wait for its
    save; the reply's id."""
    from conversations import generation

    content = '!sim tool=held:{"note":"x"} tps=0 ttft=0\nGo'
    started = await generation.start(user=user, conversation_id=conversation.id, content=content, request_id="r1")
    await asyncio.wait_for(Gate.started.wait(), 10)
    await generation.stop(user=user, conversation_id=conversation.id)
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 10)
    return started.reply.id
