"""One reply's life: provider stream → accumulate → broadcast → save once at the end.

Runs as its own task, never inside a socket handler, so closing the tab that asked for
it changes nothing. Every way it can end (finish, stop, upstream error, deadline) keeps
the text received so far and is saved and broadcast exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

from channels.db import database_sync_to_async

from .. import protocol, replies
from ..llm.base import ChatMessage, Finish, Options, Provider, Usage
from ..llm.errors import DeadlineExceeded, LLMError
from ..models import Message
from ..payloads import message_payload
from .broadcast import Broadcaster
from .live import LiveReply

logger = logging.getLogger(__name__)
Status = Message.Status
INTERNAL_ERROR = "Parley failed while writing this reply; the text so far was kept."


class Outcome:
    """How a generation ended; filled in as the stream runs."""

    __slots__ = ("error", "finish", "status")

    def __init__(self) -> None:
        self.status = Status.COMPLETE
        self.error = ""
        self.finish: Finish | None = None


async def generate(
    *,
    reply: Message,
    live: LiveReply,
    history: Sequence[ChatMessage],
    provider: Provider,
    options: Options,
    broadcaster: Broadcaster,
    deadline: float,
) -> None:
    outcome = Outcome()
    try:
        await stream_into(live, provider.stream_to(history, options, live.append), outcome, deadline)
    except asyncio.CancelledError:
        if live.interrupted:
            fail(outcome, replies.INTERRUPTED_ERROR, Status.INTERRUPTED)
        else:
            outcome.status = Status.CANCELLED
    finally:
        await asyncio.shield(finish(reply, live, outcome, broadcaster))


async def stream_into(live: LiveReply, streaming: Awaitable[Finish], outcome: Outcome, deadline: float) -> None:
    """Wait for the provider's stream, which feeds the live reply; record how it ended."""
    try:
        async with asyncio.timeout(deadline):
            outcome.finish = await streaming
    except TimeoutError:
        fail(outcome, DeadlineExceeded().user_message)
    except LLMError as error:
        logger.info("Reply %s failed upstream: %s", live.id, error)
        fail(outcome, error.user_message)
    except Exception:
        logger.exception("Reply %s failed", live.id)
        fail(outcome, INTERNAL_ERROR)


def fail(outcome: Outcome, message: str, status: str = Status.FAILED) -> None:
    outcome.status = status
    outcome.error = message


async def finish(reply: Message, live: LiveReply, outcome: Outcome, broadcaster: Broadcaster) -> None:
    """Publish the last text, save the final state once, then announce it."""
    broadcaster.drain(live)
    finish_event = outcome.finish
    usage: Usage | None = finish_event.usage if finish_event else None
    try:
        saved = await database_sync_to_async(replies.reply_finish)(
            reply=reply,
            content=live.content,
            seq=live.seq,
            status=outcome.status,
            error=outcome.error,
            model=finish_event.model if finish_event else "",
            usage=usage,
        )
    except Exception:
        # The checkpoint keeps the text; the sweep marks the reply interrupted later.
        logger.exception("Could not save the final state of reply %s", live.id)
        return
    if saved is None:
        return
    frame = protocol.completed_frame(message_payload(saved))
    broadcaster.publish(live.group, {"type": "chat.frame", "frame": frame, "done": live.id_str})
