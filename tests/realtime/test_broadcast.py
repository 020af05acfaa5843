"""The broadcaster: each reply's text is coalesced on its own clock and published in order,
with its resume state written before its frame, on the public and the one-call Redis paths."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from redis import asyncio as aioredis

from chatsite import compat
from conversations.realtime import broadcast
from conversations.realtime.broadcast import Broadcaster, LiveReply, conversation_group, frame_message, live_keys

WINDOW = 0.05


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def layer():
    layer = InMemoryChannelLayer()
    yield layer
    await layer.flush()


async def subscribed_reply(layer, broadcaster: Broadcaster) -> tuple[LiveReply, str]:
    channel = await layer.new_channel()
    reply = LiveReply(uuid.uuid4(), uuid.uuid4(), broadcaster.mark_dirty)
    await layer.group_add(reply.group, channel)
    return reply, channel


def delta_text(message: dict) -> str:
    return json.loads(message["frame"])["delta"]


async def test_a_replys_text_is_coalesced_and_flushed_when_its_own_window_ends(layer) -> None:
    clock = Clock()
    broadcaster = Broadcaster(layer, WINDOW, clock=clock)
    early, early_channel = await subscribed_reply(layer, broadcaster)
    late, late_channel = await subscribed_reply(layer, broadcaster)
    early.append("one ")
    clock.now += WINDOW / 2
    early.append("two")
    late.append("later")

    await broadcaster.flush(dirty_before=clock.now - WINDOW / 2)  # only the early reply is due
    broadcaster.publish(late.group, frame_message("{}"))  # a marker: nothing of `late` went before it
    await broadcaster.flush(dirty_before=clock.now)

    first = await layer.receive(early_channel)
    assert (first["seq"], delta_text(first)) == (1, "one two")  # coalesced into one delta
    assert [(await layer.receive(late_channel))["type"] for _ in range(2)] == ["chat.frame", "chat.delta"]


def test_the_next_flush_waits_for_the_oldest_text_but_never_less_than_a_tick() -> None:
    clock = Clock()
    broadcaster = Broadcaster(InMemoryChannelLayer(), WINDOW, clock=clock)
    reply = LiveReply(uuid.uuid4(), uuid.uuid4(), broadcaster.mark_dirty)
    reply.append("x")
    assert broadcaster.next_flush_in() == pytest.approx(WINDOW * 4 / 5)  # due a tick before the window ends
    clock.now += WINDOW
    assert broadcaster.next_flush_in() <= 0  # overdue: flush now
    broadcaster.last_flush = clock.now
    assert broadcaster.next_flush_in() == pytest.approx(WINDOW / 5)  # but one tick after the last flush
    broadcaster.publish("g", frame_message("{}"))
    assert broadcaster.next_flush_in() == pytest.approx(WINDOW / 5)  # whole frames too


async def test_a_whole_frame_follows_the_text_drained_before_it(layer) -> None:
    broadcaster = Broadcaster(layer, WINDOW)
    reply, channel = await subscribed_reply(layer, broadcaster)
    reply.append("last words")
    broadcaster.drain(reply)
    broadcaster.publish(reply.group, frame_message("{}", done=reply.id_str))
    await broadcaster.flush()
    delta = await layer.receive(channel)
    done = await layer.receive(channel)
    assert (delta["type"], delta_text(delta), done["type"]) == ("chat.delta", "last words", "chat.frame")


@pytest.fixture
async def redis_layer(redis_url):
    layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix=f"test{uuid.uuid4().hex[:8]}")
    yield layer
    await layer.flush()


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def three_deltas_and_a_frame(broadcaster: Broadcaster, layer) -> tuple[LiveReply, list[dict]]:
    """Publish them in one flush; what a group member receives, in order."""
    member = await layer.new_channel()
    reply = LiveReply(uuid.uuid4(), uuid.uuid4(), broadcaster.mark_dirty)
    await layer.group_add(reply.group, member)
    for word in ("one ", "two ", "three"):
        reply.append(word)
        broadcaster.drain(reply)
    broadcaster.publish(reply.group, frame_message("{}", done=reply.id_str))
    await broadcaster.flush()
    return reply, [await layer.receive(member) for _ in range(4)]


@pytest.mark.integration
@pytest.mark.parametrize("one_call", [False, True], ids=["group_send", "one-script-call"])
async def test_with_redis_a_flush_keeps_order_and_writes_the_resume_state(
    redis_layer, redis, redis_url, monkeypatch, one_call
):
    monkeypatch.setattr(broadcast, "SCRIPT_BATCH", 2)  # four entries: two script calls in one pipeline
    route = functools.partial(compat.group_channel_name, redis_layer) if one_call else None
    broadcaster = Broadcaster(redis_layer, WINDOW, aioredis.Redis.from_url(redis_url), redis_channel=route)
    try:
        reply, received = await three_deltas_and_a_frame(broadcaster, redis_layer)
        assert [(m["type"], m.get("seq")) for m in received] == [
            ("chat.delta", 1),
            ("chat.delta", 2),
            ("chat.delta", 3),
            ("chat.frame", None),
        ]
        assert await broadcaster.read_live(reply.id_str) == ("one two three", 3)
    finally:
        await redis.delete(*live_keys(reply.id_str))
        await broadcaster.close()


@pytest.mark.integration
async def test_after_a_lost_write_the_resume_state_is_rewritten_whole(redis_layer, redis, redis_url):
    broadcaster = Broadcaster(redis_layer, WINDOW, aioredis.Redis.from_url(redis_url))
    reply = LiveReply(uuid.uuid4(), uuid.uuid4(), broadcaster.mark_dirty)
    try:
        await redis.set(live_keys(reply.id_str)[0], "half-written ")  # what an outage left behind
        reply.append("lost ")
        broadcaster.drain(reply)
        reply.live_stale = True  # as a failed flush leaves it
        reply.append("found")
        await broadcaster.flush()
        assert await broadcaster.read_live(reply.id_str) == ("lost found", 2)
    finally:
        await redis.delete(*live_keys(reply.id_str))
        await broadcaster.close()


def test_groups_are_named_after_conversations() -> None:
    conversation_id = uuid.uuid4()
    assert conversation_group(conversation_id) == f"conv.{conversation_id}"


async def test_close_publishes_what_is_queued_and_ends_the_loop_without_cancelling_it(layer) -> None:
    broadcaster = Broadcaster(layer, WINDOW)
    broadcaster.task = asyncio.get_running_loop().create_task(broadcaster.run())
    reply, channel = await subscribed_reply(layer, broadcaster)
    reply.append("queued at shutdown")
    await broadcaster.close()
    assert broadcaster.task.done() and not broadcaster.task.cancelled()
    assert delta_text(await layer.receive(channel)) == "queued at shutdown"
