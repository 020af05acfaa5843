"""Finish replies orphaned by dead processes with the fullest text proven for them; for cron or after a crash."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand
from redis import asyncio as aioredis

from conversations import protocol
from conversations.realtime import housekeeping
from conversations.realtime.broadcast import conversation_group, frame_message


class Command(BaseCommand):
    help = "Finish streaming replies whose process is gone, keeping the fullest text proven for each."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--stale-after",
            type=float,
            default=settings.PARLEY_STALE_AFTER,
            help="Seconds without a heartbeat after which a reply whose process is not alive counts as orphaned.",
        )

    def handle(self, *args, stale_after: float, **options) -> None:
        recovered = async_to_sync(sweep)(stale_after)
        self.stdout.write(f"Recovered {len(recovered)} orphaned replies.")


async def sweep(stale_after: float) -> list:
    """One sweep, as a process that runs no replies; each recovered reply is announced to its sockets."""
    redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2) if settings.REDIS_URL else None
    try:
        recovered = await housekeeping.sweep(redis=redis, stale_after=stale_after)
    finally:
        if redis is not None:
            await redis.aclose()
    layer = get_channel_layer()
    for reply in recovered:
        completed = protocol.completed_frame(protocol.message_payload(reply))
        await layer.group_send(conversation_group(reply.conversation_id), frame_message(completed, done=str(reply.id)))
    return recovered
