"""Tools the tool-loop tests register through PARLEY_TOOLS, by dotted path like any deployment's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime

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


def count_elsewhere(context: ToolContext) -> dict[str, int]:
    """Count the messages of the conversation the reply is in, and say which process counted."""
    return {"messages": Message.objects.filter(conversation_id=context.conversation_id).count(), "pid": os.getpid()}


def hold(seconds: float, port: int) -> str:
    """Tell the test which process runs the call, then block for a while.

    Args:
        seconds: How long to block.
        port: The local TCP port of the test's `call_starts`.
    """
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(str(os.getpid()).encode())
    time.sleep(seconds)
    return "done"


@contextlib.asynccontextmanager
async def call_starts() -> AsyncIterator[tuple[int, asyncio.Queue[int]]]:
    """A local port for `hold` to report to, and the process ids it reports, as calls start."""
    pids: asyncio.Queue[int] = asyncio.Queue()

    async def reported(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pids.put_nowait(int(await reader.read()))
        writer.close()

    async with await asyncio.start_server(reported, "127.0.0.1", 0) as server:
        yield server.sockets[0].getsockname()[1], pids


def niceness() -> int:
    """The nice value of the process running the call."""
    return os.nice(0)


class Unpicklable:
    """A value pickle refuses and JSON writes with `str`, as a tool may return by accident."""

    def __reduce__(self):
        raise TypeError("Unpicklable cannot be pickled")

    def __str__(self) -> str:
        return "unpicklable"


def odd_result() -> dict:
    """Return values JSON cannot hold as they are, one of them unpicklable."""
    return {"value": Unpicklable(), "when": datetime(2024, 5, 1, 12, 0)}


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
