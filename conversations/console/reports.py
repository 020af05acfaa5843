"""Each process tells the live console what it is doing: a report a second to the console group,
and a heartbeat row in the database, so the console also lists processes that have gone quiet.

A report is built from the worker's own state (no database read): its replies with their model,
tokens so far (counted by the broadcaster per flush), rate and age. The console socket adds the
owners' names (console/consumer.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from .. import metrics, services

if TYPE_CHECKING:
    from ..generation import Worker

logger = logging.getLogger(__name__)

CONSOLE_GROUP = "parley.console"
HOST = socket.gethostname()
PRUNE_AFTER = timedelta(days=1)  # a process silent this long leaves the console's list


def process_report(worker: Worker, now: float) -> dict[str, Any]:
    """This process and its running replies; `now` is on the broadcaster's clock."""
    replies = []
    for running in list(worker.running.values()):
        live = running.live
        streaming_for = now - live.first_token_at if live.first_token_at is not None else 0.0
        replies.append(
            {
                "id": live.id_str,
                "conversation_id": str(live.conversation_id),
                "model": running.options.model,
                "tokens": live.tokens,
                "tokens_per_second": round(live.tokens / streaming_for, 1) if streaming_for > 0 else 0.0,
                "age": round(now - live.started_at, 1) if live.started_at is not None else None,
            }
        )
    return {
        "name": worker.channel,
        "host": HOST,
        "pid": os.getpid(),
        "open_sockets": open_sockets(),
        "running_replies": len(replies),
        "replies": replies,
    }


def open_sockets() -> int:
    """Chat and console sockets open in this process, as /metrics counts them."""
    return int(sum(sample.value for family in metrics.OPEN_SOCKETS.collect() for sample in family.samples))


async def report_loop(worker: Worker) -> None:
    """Publish a report every PARLEY_CONSOLE_INTERVAL and heartbeat every PARLEY_CHECKPOINT_INTERVAL."""
    started_at = timezone.now()
    last_heartbeat = -float("inf")
    while True:
        now = worker.broadcaster.clock()
        report = process_report(worker, now)
        try:
            await worker.layer.group_send(CONSOLE_GROUP, {"type": "console.report", "process": report})
        except Exception:  # the console misses a report; streaming goes on
            metrics.REDIS_ERRORS.labels(operation="console_report").inc()
        if now - last_heartbeat >= settings.PARLEY_CHECKPOINT_INTERVAL:
            last_heartbeat = now
            await heartbeat(report, started_at)
        await asyncio.sleep(settings.PARLEY_CONSOLE_INTERVAL)


async def heartbeat(report: dict[str, Any], started_at) -> None:
    try:
        await database_sync_to_async(services.server_process_heartbeat)(
            name=report["name"],
            host=report["host"],
            pid=report["pid"],
            started_at=started_at,
            open_sockets=report["open_sockets"],
            running_replies=report["running_replies"],
            prune_before=timezone.now() - PRUNE_AFTER,
        )
    except Exception:
        logger.exception("Could not record this process's heartbeat")
        metrics.DATABASE_ERRORS.labels(operation="heartbeat").inc()
