"""A worker's background duties: checkpointing its replies and recovering other processes' orphans.

Every PARLEY_CHECKPOINT_INTERVAL the worker saves the partial text of all its running replies in
one statement, which also proves the process alive (the heartbeat). Every process sweeps for
streaming replies whose heartbeat went stale, marks them interrupted with their saved text, and
announces that, so a crashed process costs at most one checkpoint interval of text.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from .. import metrics, protocol, replies
from .broadcast import conversation_group, frame_message

if TYPE_CHECKING:
    from ..generation import Worker

logger = logging.getLogger(__name__)


async def checkpoint_loop(worker: Worker) -> None:
    while True:
        await asyncio.sleep(settings.PARLEY_CHECKPOINT_INTERVAL)
        states = [(r.live.id, r.live.content, r.live.seq) for r in worker.running.values()]
        if states:
            await guarded(database_sync_to_async(replies.replies_checkpoint), "checkpoint", states=states)


async def sweep_loop(worker: Worker) -> None:
    while True:
        stale_before = timezone.now() - timedelta(seconds=settings.PARLEY_STALE_AFTER)
        orphans = await guarded(
            database_sync_to_async(replies.replies_interrupt_orphans), "sweep", stale_before=stale_before
        )
        for reply in orphans or []:
            completed = protocol.completed_frame(protocol.message_payload(reply))
            worker.broadcaster.publish(
                conversation_group(reply.conversation_id), frame_message(completed, done=str(reply.id))
            )
        await asyncio.sleep(settings.PARLEY_STALE_AFTER / 2)


async def guarded(job, operation: str, **kwargs):
    """Run a housekeeping step (a database operation); a failure is logged, counted and retried next round."""
    try:
        return await job(**kwargs)
    except Exception:
        logger.exception("Housekeeping step %s failed", operation)
        metrics.DATABASE_ERRORS.labels(operation=operation).inc()
        return None
