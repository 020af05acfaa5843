"""A worker's background duties: checkpointing its replies and recovering other processes' orphans.

Every PARLEY_CHECKPOINT_INTERVAL the worker proves itself alive in Redis (liveness.py), then saves
the partial text of all its running replies in one statement, which also refreshes their heartbeat
in the database. Every process sweeps for streaming replies whose heartbeat went stale and whose
process is gone, never its own running ones, and finishes each with the fullest text it can prove
(recovery.py), so a crashed process costs no published text, and a database outage costs none.
Every PARLEY_UPLOAD_EXPIRE_INTERVAL it also deletes the uploads no message took, so no cron is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Container
from datetime import timedelta
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from redis import asyncio as aioredis

from .. import metrics, replies, selectors
from ..attachments.services import uploads_expire
from ..models import Message
from . import liveness, recovery

if TYPE_CHECKING:
    from ..generation import Worker

logger = logging.getLogger(__name__)


async def checkpoint_loop(worker: Worker) -> None:
    while True:
        if worker.redis is not None:
            await redis_step(liveness.beat, worker.redis, worker.channel, settings.PARLEY_STALE_AFTER)
        await asyncio.sleep(settings.PARLEY_CHECKPOINT_INTERVAL)
        states = [(r.live.id, r.live.content, r.live.seq) for r in worker.running.values()]
        if states:
            await guarded(database_sync_to_async(replies.replies_checkpoint), "checkpoint", states=states)


async def sweep_loop(worker: Worker) -> None:
    while True:
        recovered = await guarded(
            sweep, "sweep", redis=worker.redis, running=worker.running, own_channel=worker.channel
        )
        for reply in recovered or []:
            worker.announce_finished(reply)
        await asyncio.sleep(settings.PARLEY_STALE_AFTER / 2)


async def expire_uploads_loop(sleep=asyncio.sleep) -> None:
    """Delete expired unused uploads now and every PARLEY_UPLOAD_EXPIRE_INTERVAL; each process does
    it (a row another process deleted first is simply gone), and 0 leaves it to cron."""
    interval = settings.PARLEY_UPLOAD_EXPIRE_INTERVAL
    while interval > 0:
        expired = await guarded(database_sync_to_async(uploads_expire), "expire_uploads")
        if expired:
            logger.info("Deleted %d unused uploads past PARLEY_UPLOAD_TTL", expired)
        await sleep(interval)


async def sweep(
    *,
    redis: aioredis.Redis | None,
    running: Container[str] = (),
    own_channel: str = "",
    stale_after: float | None = None,
) -> list[Message]:
    """Finish every orphaned reply with the fullest text proven for it; the finished rows.

    An orphan has a stale heartbeat, is not running here, and its process is not alive in Redis (or
    is this process, which no longer runs it). Without Redis there is one process, so another
    process's reply is an orphan by its heartbeat alone.
    """
    stale_before = timezone.now() - timedelta(
        seconds=settings.PARLEY_STALE_AFTER if stale_after is None else stale_after
    )
    stale = await database_sync_to_async(replies.replies_stale)(stale_before=stale_before)
    stale = [reply for reply in stale if str(reply.id) not in running]
    if redis is not None and stale:
        alive = await liveness.alive(redis, {reply.worker for reply in stale if reply.worker != own_channel})
        stale = [reply for reply in stale if reply.worker not in alive]
    recovered = []
    for reply in stale:
        final = await recovery.fullest_state(redis, reply)
        saved = await database_sync_to_async(replies.reply_recover)(
            reply=reply, stale_before=stale_before, **final.fields()
        )
        if saved is not None:
            logger.info("Recovered reply %s as %s with %d characters", reply.id, final.status, len(final.content))
            await recovery.forget(redis, reply.id)
            recovered += await database_sync_to_async(selectors.with_siblings)([saved])  # for its frame
    return recovered


async def redis_step(job, *args) -> None:
    """A housekeeping step in Redis; a failure is logged, counted and retried next round."""
    try:
        await job(*args)
    except Exception:
        logger.exception("Housekeeping step %s failed", job.__name__)
        metrics.REDIS_ERRORS.labels(operation=job.__name__).inc()


async def guarded(job, operation: str, **kwargs):
    """Run a housekeeping step (a database operation); a failure is logged, counted and retried next round."""
    try:
        return await job(**kwargs)
    except Exception:
        logger.exception("Housekeeping step %s failed", operation)
        metrics.DATABASE_ERRORS.labels(operation=operation).inc()
        return None
