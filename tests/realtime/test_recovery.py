"""The recovery path: resume state that can be trusted, the fullest proven text, and a sweep that
a database outage cannot fool into taking a live process's replies."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from redis import asyncio as aioredis

from chatsite import compat
from conversations import replies
from conversations.llm.base import Usage
from conversations.models import Conversation, Message
from conversations.realtime import housekeeping, liveness, recovery
from conversations.realtime.broadcast import Broadcaster, LiveReply
from conversations.realtime.resume_state import live_keys
from conversations.replies import FinalState

CHECKPOINT = FinalState(content="Hello, wor", seq=3, status="interrupted", error=replies.INTERRUPTED_ERROR)


def test_live_text_that_extends_the_checkpoint_is_preferred():
    live = FinalState(content="Hello, world! And more.", seq=7, status="interrupted", error=CHECKPOINT.error)
    assert recovery.fullest(CHECKPOINT, None, live) == live


def test_live_text_that_does_not_extend_the_checkpoint_is_not_trusted():
    tail_only = FinalState(content="ld! And more.", seq=7, status="interrupted")  # what a Redis restart could leave
    older = FinalState(content="Hello", seq=2, status="interrupted")
    assert recovery.fullest(CHECKPOINT, None, tail_only) == CHECKPOINT
    assert recovery.fullest(CHECKPOINT, None, older) == CHECKPOINT


def test_a_hand_off_carries_the_true_outcome():
    handed = FinalState(content="Hello, world!", seq=4, status="complete", model="m", usage=Usage(3, 4))
    live = FinalState(content="Hello, world!", seq=4, status="interrupted", error=CHECKPOINT.error)
    assert recovery.fullest(CHECKPOINT, handed, live) == handed
    assert FinalState.from_json(handed.to_json()) == handed


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_layer(redis_url):
    layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix=f"test{uuid.uuid4().hex[:8]}")
    yield layer
    await layer.flush()


@pytest.mark.integration
@pytest.mark.parametrize("one_call", [False, True], ids=["group_send", "one-script-call"])
async def test_resume_state_wiped_mid_stream_is_never_left_as_a_tail(redis_layer, redis, redis_url, one_call):
    """After a Redis restart, appending the next delta would make its text pose as the whole reply."""
    route = compat.group_channel_namer(redis_layer) if one_call else None
    broadcaster = Broadcaster(redis_layer, 0.05, aioredis.Redis.from_url(redis_url), redis_channel=route)
    reply = LiveReply(uuid.uuid4(), uuid.uuid4(), broadcaster.mark_dirty)
    try:
        reply.append("Hello, ")
        await broadcaster.flush()
        await redis.delete(*live_keys(reply.id_str))  # the restart
        reply.append("world")
        await broadcaster.flush()
        assert await broadcaster.read_live(reply.id_str) is None  # absent, not "world" at seq 2
        reply.append("!")
        await broadcaster.flush()
        assert await broadcaster.read_live(reply.id_str) == ("Hello, world!", 3)  # rewritten whole
    finally:
        await redis.delete(*live_keys(reply.id_str))
        await broadcaster.close()


@sync_to_async
def streaming_reply(owner, *, worker: str, content: str, seq: int, minutes_stale: float) -> Message:
    conversation = Conversation.objects.create(owner=owner, title="Recovery")
    return Message.objects.create(
        conversation=conversation,
        position=0,
        role="assistant",
        status="streaming",
        content=content,
        seq=seq,
        worker=worker,
        heartbeat_at=timezone.now() - timedelta(minutes=minutes_stale),
    )


@sync_to_async
def saved(reply: Message) -> Message:
    return Message.objects.get(id=reply.id)


@pytest.fixture
async def keys(redis):
    """Redis keys a test wrote, deleted afterwards (the Redis is shared with other tests)."""
    written: list[str] = []
    yield written
    if written:
        await redis.delete(*written)


@pytest.mark.integration
async def test_the_sweep_leaves_a_stale_reply_whose_process_is_alive_in_redis(transactional_db, alice, redis, keys):
    """A database outage makes every heartbeat stale; the process's key in Redis says it still runs."""
    worker = f"parley.worker.alive-{uuid.uuid4().hex}"
    keys.append(liveness.worker_key(worker))
    await liveness.beat(redis, worker, ttl=30)
    reply = await streaming_reply(alice, worker=worker, content="partial", seq=1, minutes_stale=5)
    assert await housekeeping.sweep(redis=redis) == []
    assert (await saved(reply)).status == "streaming"


@pytest.mark.integration
async def test_the_sweep_never_takes_a_reply_its_own_process_runs(transactional_db, alice, redis):
    own = f"parley.worker.own-{uuid.uuid4().hex}"  # no liveness key: only `running` protects it
    reply = await streaming_reply(alice, worker=own, content="partial", seq=1, minutes_stale=5)
    assert await housekeeping.sweep(redis=redis, running={str(reply.id)}, own_channel=own) == []
    assert (await saved(reply)).status == "streaming"


@pytest.mark.integration
async def test_a_dead_processs_reply_is_finished_with_its_published_text(transactional_db, alice, redis, keys):
    reply = await streaming_reply(alice, worker="parley.worker.gone", content="Hello, wor", seq=3, minutes_stale=5)
    text_key, seq_key = live_keys(str(reply.id))
    keys += [text_key, seq_key]
    await redis.set(text_key, "Hello, world! And more.")
    await redis.set(seq_key, 7)
    [recovered] = await housekeeping.sweep(redis=redis)
    row = await saved(reply)
    assert (row.status, row.content, row.seq) == ("interrupted", "Hello, world! And more.", 7)
    assert row.error == replies.INTERRUPTED_ERROR and recovered.content == row.content


@pytest.mark.integration
async def test_a_handed_off_reply_is_saved_as_it_really_ended(transactional_db, alice, redis, keys):
    reply = await streaming_reply(alice, worker="parley.worker.gone", content="Hello", seq=1, minutes_stale=5)
    keys.append(recovery.handoff_key(reply.id))
    final = FinalState(content="Hello, world!", seq=2, status="complete", model="sim", usage=Usage(5, 6))
    assert await recovery.hand_off(redis, reply.id, final)
    await housekeeping.sweep(redis=redis)
    row = await saved(reply)
    assert (row.status, row.content, row.error, row.completion_tokens) == ("complete", "Hello, world!", "", 6)
    assert await redis.exists(recovery.handoff_key(reply.id)) == 0  # served, then forgotten


@pytest.mark.integration
def test_sweep_replies_from_cron_recovers_a_dead_processs_reply_and_spares_a_live_ones(transactional_db, alice):
    alive_worker = f"parley.worker.alive-{uuid.uuid4().hex}"
    async_to_sync(beat_for_a_minute)(alive_worker)
    dead = async_to_sync(streaming_reply)(alice, worker="parley.worker.gone", content="kept", seq=1, minutes_stale=5)
    live = async_to_sync(streaming_reply)(alice, worker=alive_worker, content="going", seq=1, minutes_stale=5)
    output = io.StringIO()
    call_command("sweep_replies", stdout=output)
    assert "Recovered 1 orphaned replies." in output.getvalue()
    assert Message.objects.get(id=dead.id).status == "interrupted"
    assert Message.objects.get(id=live.id).status == "streaming"


async def beat_for_a_minute(channel: str) -> None:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        await liveness.beat(client, channel, ttl=60)
    finally:
        await client.aclose()
