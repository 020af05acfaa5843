"""The broadcaster's coalescing: each reply's text is flushed on its own clock, in order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from channels.layers import InMemoryChannelLayer
from redis import asyncio as aioredis

from conversations.realtime import broadcast
from conversations.realtime.broadcast import Broadcaster, conversation_group, live_keys
from conversations.realtime.layer import ParleyChannelLayer
from conversations.realtime.live import LiveReply

WINDOW = 0.5  # long, so the test does not depend on how fast the machine is


@pytest.fixture
async def layer():
    layer = InMemoryChannelLayer()
    yield layer
    await layer.flush()


async def subscribed_reply(layer, broadcaster: Broadcaster) -> tuple[LiveReply, str]:
    conversation_id = uuid.uuid4()
    channel = await layer.new_channel()
    await layer.group_add(conversation_group(conversation_id), channel)
    reply = LiveReply(uuid.uuid4(), conversation_id, conversation_group(conversation_id), broadcaster.mark_dirty)
    return reply, channel


def delta_text(message: dict) -> str:
    return json.loads(message["frame"])["delta"]


async def test_replies_that_got_text_at_different_times_are_flushed_apart(layer) -> None:
    broadcaster = Broadcaster(layer, WINDOW)
    broadcaster.start()
    try:
        early, early_channel = await subscribed_reply(layer, broadcaster)
        late, late_channel = await subscribed_reply(layer, broadcaster)
        started = time.monotonic()
        early.append("one ")
        await asyncio.sleep(WINDOW / 2)
        early.append("two")
        late.append("later")

        first = await asyncio.wait_for(layer.receive(early_channel), WINDOW * 10)
        waited = time.monotonic() - started
        assert (first["seq"], delta_text(first)) == (1, "one two")  # coalesced into one delta
        assert waited >= WINDOW * (1 - 1 / 5)  # held for the window, less at most one tick
        with pytest.raises(TimeoutError):  # the later reply's window has not ended yet
            await asyncio.wait_for(layer.receive(late_channel), WINDOW / 5)
        second = await asyncio.wait_for(layer.receive(late_channel), WINDOW * 10)
        assert (second["seq"], delta_text(second)) == (1, "later")
    finally:
        await broadcaster.close()


async def test_a_whole_frame_follows_the_text_drained_before_it(layer) -> None:
    broadcaster = Broadcaster(layer, WINDOW)
    broadcaster.start()
    try:
        reply, channel = await subscribed_reply(layer, broadcaster)
        reply.append("last words")
        broadcaster.drain(reply)
        broadcaster.publish(reply.group, {"type": "chat.frame", "frame": "{}", "done": reply.id_str})
        delta = await asyncio.wait_for(layer.receive(channel), WINDOW * 10)
        done = await asyncio.wait_for(layer.receive(channel), WINDOW * 10)
        assert (delta["type"], delta_text(delta), done["type"]) == ("chat.delta", "last words", "chat.frame")
    finally:
        await broadcaster.close()


@pytest.mark.integration
async def test_with_redis_a_flush_split_over_script_calls_keeps_order_and_resume_state(redis_url, monkeypatch):
    monkeypatch.setattr(broadcast, "SCRIPT_BATCH", 2)  # four entries: two script calls in one pipeline
    layer = ParleyChannelLayer(hosts=[redis_url], prefix=f"test{uuid.uuid4().hex[:8]}")
    broadcaster = Broadcaster(layer, WINDOW, aioredis.Redis.from_url(redis_url))
    listener = aioredis.Redis.from_url(redis_url)
    reply = LiveReply(uuid.uuid4(), uuid.uuid4(), conversation_group(uuid.uuid4()), broadcaster.mark_dirty)
    pubsub = listener.pubsub()
    await pubsub.subscribe(layer.group_channel(reply.group))
    try:
        for word in ("one ", "two ", "three"):
            reply.append(word)
            broadcaster.drain(reply)
        broadcaster.publish(reply.group, {"type": "chat.frame", "frame": "{}", "done": reply.id_str})
        await broadcaster.flush()
        received = []
        while len(received) < 4:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if message is not None:
                received.append(layer.deserialize(message["data"]))
        assert [(m["type"], m.get("seq")) for m in received] == [
            ("chat.delta", 1),
            ("chat.delta", 2),
            ("chat.delta", 3),
            ("chat.frame", None),
        ]
        assert await broadcaster.read_live(reply.id_str) == ("one two three", 3)
    finally:
        await listener.delete(*live_keys(reply.id_str))
        await pubsub.aclose()
        await listener.aclose()
        await broadcaster.close()
