"""The broadcaster: each reply's text is coalesced on its own clock and published in order,
with its resume state written before its frame, on the public and the one-call Redis paths."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from redis import asyncio as aioredis

from chatsite import compat
from conversations.realtime import broadcast, resume_state
from conversations.realtime.broadcast import Broadcaster, LiveReply, conversation_group, frame_message
from conversations.realtime.local import LocalSockets
from conversations.realtime.resume_state import live_keys

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


class CPUClock:
    """Process CPU time that moves only when the test says so."""

    def __init__(self) -> None:
        self.used = 10.0

    def __call__(self) -> float:
        return self.used


class StartBatches:
    """The count of start batches a worker has begun (Broadcaster.watch_starts), moved by the test."""

    def __init__(self) -> None:
        self.begun = 0

    def __call__(self) -> int:
        return self.begun


def busy_broadcaster(layer, clock: Clock) -> Broadcaster:
    """A broadcaster that has measured its process using a whole core while sends were starting:
    it holds text for the window."""
    cpu, starts = CPUClock(), StartBatches()
    broadcaster = Broadcaster(layer, WINDOW, clock=clock, cpu_clock=cpu)
    broadcaster.watch_starts(starts)
    starts.begun += 1
    clock.now += 2 * broadcast.LOAD_PERIOD
    cpu.used += 2 * broadcast.LOAD_PERIOD
    broadcaster.adapt_hold()
    assert broadcaster.hold == WINDOW
    return broadcaster


async def past_first_text(broadcaster: Broadcaster, *replies: LiveReply) -> None:
    """Publish each reply's first text, which is never held."""
    for reply in replies:
        reply.append("first ")
    await broadcaster.flush(dirty_before=-1)  # only first texts: nothing else is due


async def test_a_replys_text_is_coalesced_and_flushed_when_its_own_window_ends(layer) -> None:
    clock = Clock()
    broadcaster = busy_broadcaster(layer, clock)
    early, early_channel = await subscribed_reply(layer, broadcaster)
    late, late_channel = await subscribed_reply(layer, broadcaster)
    await past_first_text(broadcaster, early, late)
    assert [delta_text(await layer.receive(channel)) for channel in (early_channel, late_channel)] == ["first "] * 2
    early.append("one ")
    clock.now += WINDOW / 2
    early.append("two")
    late.append("later")

    await broadcaster.flush(dirty_before=clock.now - WINDOW / 2)  # only the early reply is due
    broadcaster.publish(late.group, frame_message("{}"))  # a marker: nothing of `late` went before it
    await broadcaster.flush(dirty_before=clock.now)

    second = await layer.receive(early_channel)
    assert (second["seq"], delta_text(second)) == (2, "one two")  # coalesced into one delta
    assert [(await layer.receive(late_channel))["type"] for _ in range(2)] == ["chat.frame", "chat.delta"]


async def test_a_replys_first_text_goes_out_at_once_even_right_after_a_flush(layer) -> None:
    clock = Clock()
    broadcaster = busy_broadcaster(layer, clock)
    reply, channel = await subscribed_reply(layer, broadcaster)
    broadcaster.last_flush = clock.now
    reply.append("Hello")
    assert broadcaster.next_flush_in() == 0
    await broadcaster.flush(dirty_before=clock.now - broadcaster.wait_before_due)
    assert delta_text(await layer.receive(channel)) == "Hello"
    reply.append(", world")
    assert broadcaster.next_flush_in() == pytest.approx(WINDOW * 4 / 5)  # later text is held again


async def test_the_next_flush_waits_for_the_oldest_text_but_never_less_than_a_tick(layer) -> None:
    clock = Clock()
    broadcaster = busy_broadcaster(layer, clock)
    reply, _ = await subscribed_reply(layer, broadcaster)
    await past_first_text(broadcaster, reply)
    reply.append("x")
    assert broadcaster.next_flush_in() == pytest.approx(WINDOW * 4 / 5)  # due a tick before the window ends
    clock.now += WINDOW
    assert broadcaster.next_flush_in() <= 0  # overdue: flush now
    broadcaster.last_flush = clock.now
    assert broadcaster.next_flush_in() == pytest.approx(WINDOW / 5)  # but one tick after the last flush
    broadcaster.publish("g", frame_message("{}"))
    assert broadcaster.next_flush_in() == pytest.approx(WINDOW / 5)  # whole frames too


STARTING = (broadcast.IDLE_BELOW, broadcast.BUSY_ABOVE)
STREAMING = (broadcast.STREAMING_IDLE_BELOW, broadcast.STREAMING_BUSY_ABOVE)


@pytest.mark.parametrize(("starting", "band"), [(True, STARTING), (False, STREAMING)])
@pytest.mark.parametrize(("point", "share_of_window"), [(-1, 0.0), (0, 0.0), (0.5, 0.5), (1, 1.0), (1.5, 1.0)])
def test_the_hold_follows_the_processs_cpu_use(starting, band, point, share_of_window) -> None:
    """From no hold at the band's start to the whole window at its end; with a start batch begun in
    the period the band is the lower one, so text yields to a burst's first tokens sooner."""
    idle, full = band
    core_share = max(0.0, idle + point * (full - idle))
    clock, cpu, starts = Clock(), CPUClock(), StartBatches()
    broadcaster = Broadcaster(InMemoryChannelLayer(), WINDOW, clock=clock, cpu_clock=cpu)
    broadcaster.watch_starts(starts)
    starts.begun += starting
    clock.now += 2 * broadcast.LOAD_PERIOD
    cpu.used += 2 * broadcast.LOAD_PERIOD * core_share
    broadcaster.adapt_hold()
    hold = WINDOW * share_of_window
    assert broadcaster.hold == pytest.approx(hold)
    assert (broadcaster.tick, broadcaster.wait_before_due) == pytest.approx((hold / 5, hold * 4 / 5))


def test_the_load_is_measured_over_a_load_period_not_per_flush() -> None:
    clock, cpu = Clock(), CPUClock()
    broadcaster = Broadcaster(InMemoryChannelLayer(), WINDOW, clock=clock, cpu_clock=cpu)
    clock.now += broadcast.LOAD_PERIOD * 0.6
    cpu.used += broadcast.LOAD_PERIOD * 0.6  # a busy moment, too short to judge by
    broadcaster.adapt_hold()
    assert broadcaster.hold == 0
    clock.now += broadcast.LOAD_PERIOD * 0.6
    cpu.used += broadcast.LOAD_PERIOD * 0.51
    broadcaster.adapt_hold()  # more than a period, busy 92.5% of it: halfway from idle to busy
    assert broadcaster.hold == pytest.approx(WINDOW / 2)


async def test_a_loop_that_gets_to_the_flush_late_makes_text_wait_for_the_window(layer) -> None:
    clock = Clock()
    broadcaster = Broadcaster(layer, WINDOW, clock=clock, cpu_clock=CPUClock())  # no CPU used: only lateness tells
    reply, channel = await subscribed_reply(layer, broadcaster)
    broadcaster.task = asyncio.create_task(broadcaster.run())
    await asyncio.sleep(0)  # the loop starts waiting for text
    try:
        reply.append("first")  # wakes the flush loop now...
        clock.now += 2 * broadcast.LOAD_PERIOD  # ...which resumes that much later, like a starved process
        assert delta_text(await asyncio.wait_for(layer.receive(channel), 1)) == "first"
        for _ in range(100):  # the loop adapts right after its flush
            if broadcaster.hold:
                break
            await asyncio.sleep(0)
        assert broadcaster.hold == WINDOW
    finally:
        await broadcaster.close()


async def test_text_that_arrives_while_the_loop_is_busy_is_not_lateness(layer) -> None:
    """Woken while it sleeps out a hold or waits on Redis, the loop was not late: counting that time
    as lateness made an idle process hold every delta for the whole window."""
    clock = Clock()
    broadcaster = Broadcaster(layer, WINDOW, clock=clock, cpu_clock=CPUClock())  # no CPU used
    reply, channel = await subscribed_reply(layer, broadcaster)
    reply.append("first")  # the loop is not waiting yet, as when text comes during a flush
    clock.now += 2 * broadcast.LOAD_PERIOD
    broadcaster.task = asyncio.create_task(broadcaster.run())
    try:
        assert delta_text(await asyncio.wait_for(layer.receive(channel), 1)) == "first"
        for _ in range(100):  # the loop adapts right after its flush
            if broadcaster.load_sampled[0] == clock.now:
                break
            await asyncio.sleep(0)
        assert broadcaster.load_sampled[0] == clock.now and broadcaster.hold == 0
    finally:
        await broadcaster.close()


async def test_on_an_idle_process_no_text_is_held(layer) -> None:
    clock = Clock()
    broadcaster = Broadcaster(layer, WINDOW, clock=clock, cpu_clock=CPUClock())
    reply, _ = await subscribed_reply(layer, broadcaster)
    await past_first_text(broadcaster, reply)
    broadcaster.last_flush = clock.now
    reply.append("x")
    assert broadcaster.next_flush_in() == 0  # not a tick later, not at the window's end: now


async def test_on_an_idle_process_every_delta_goes_out_on_the_next_loop_turn(layer) -> None:
    broadcaster = Broadcaster(layer, WINDOW, cpu_clock=lambda: 0.0)  # the process uses no CPU at all
    reply, channel = await subscribed_reply(layer, broadcaster)
    broadcaster.task = asyncio.create_task(broadcaster.run())
    try:
        for seq, text in enumerate(["one", "two", "three"], start=1):
            reply.append(text)
            message = await asyncio.wait_for(layer.receive(channel), 1)
            assert (message["seq"], delta_text(message)) == (seq, text)  # each alone: nothing was held
    finally:
        await broadcaster.close()


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


class FollowingSocket:
    """A socket of this process (realtime/local.py) that records the first texts handed to it."""

    def __init__(self) -> None:
        self.first_texts: list[dict] = []
        self.handed = asyncio.Event()

    async def first_text(self, message: dict) -> None:
        self.first_texts.append(message)
        self.handed.set()


async def test_a_first_text_reaches_this_processs_sockets_without_waiting_for_a_flush(layer) -> None:
    """The sender's socket is in this process: its reply's first words must not wait for the flush
    under way or for Redis, which under load carries every other reply's deltas first."""
    local, socket = LocalSockets(), FollowingSocket()
    broadcaster = busy_broadcaster(layer, Clock())
    broadcaster.local = local
    reply, channel = await subscribed_reply(layer, broadcaster)
    local.add(reply.group, socket)
    reply.append("Hello")
    reply.append(", world")  # the same loop turn: one first delta
    await asyncio.wait_for(socket.handed.wait(), 5)  # no flush has run: the broadcaster's loop is not started
    assert [(m["seq"], delta_text(m)) for m in socket.first_texts] == [(1, "Hello, world")]
    assert broadcaster.next_flush_in() == 0  # its copy for other processes goes at once too
    reply.append(" again")
    await broadcaster.flush()
    copies = [await layer.receive(channel) for _ in range(2)]
    assert [(m["seq"], delta_text(m)) for m in copies] == [(1, "Hello, world"), (2, " again")]
    assert len(socket.first_texts) == 1  # later text goes through the layer only


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
    monkeypatch.setattr(resume_state, "SCRIPT_BATCH", 2)  # four entries: two script calls in one pipeline
    route = compat.group_channel_namer(redis_layer) if one_call else None
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
