"""Group commit of starts (group_commit.py, generation/worker.py): one batch in flight, the starts
that arrive meanwhile saved together next, and each start's outcome reaching its caller alone."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connections, router

from conversations.generation.worker import START_BATCH_MAX, close_start_thread, open_start_thread, start_thread
from conversations.group_commit import REST_MAX, GroupCommit
from conversations.models import Message
from conversations.replies import ReplyRefused, StartRequest


class HeldSaves:
    """A save that records its batches and, while `hold` is clear, waits: starts pile up meanwhile."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.entered = asyncio.Event()

    async def __call__(self, requests: list[StartRequest]) -> list:
        self.batches.append([r.request_id for r in requests])
        self.entered.set()
        await self.hold.wait()
        return [ReplyRefused("busy", r.request_id) if r.content == "refuse" else r.request_id for r in requests]


def request(n: int, content: str = "hi") -> StartRequest:
    return StartRequest(user=None, conversation_id=f"c{n}", content=content, request_id=f"r{n}", worker="w")


async def test_a_start_on_an_idle_process_is_saved_alone_at_once():
    saves = HeldSaves()
    assert await GroupCommit(saves, START_BATCH_MAX).submit(request(1)) == "r1"
    assert saves.batches == [["r1"]]


async def test_starts_arriving_while_a_batch_is_saved_go_together_in_the_next():
    saves = HeldSaves()
    batcher = GroupCommit(saves, START_BATCH_MAX)
    saves.hold.clear()
    first = asyncio.ensure_future(batcher.submit(request(0)))
    await saves.entered.wait()
    later = [asyncio.ensure_future(batcher.submit(request(n))) for n in range(1, 5)]
    saves.hold.set()
    assert await asyncio.gather(first, *later) == ["r0", "r1", "r2", "r3", "r4"]
    assert saves.batches == [["r0"], ["r1", "r2", "r3", "r4"]]


@pytest.mark.parametrize(
    ("rest", "batches"), [(True, [["r0"], ["r1", "r2", "r3"]]), (False, [["r0"], ["r1", "r2"], ["r3"]])]
)
async def test_resting_between_the_batches_of_a_burst_lets_the_next_batch_grow(rest, batches):
    """With `rest`, a start that arrives just after a batch was saved still joins the next one."""
    saves = HeldSaves()
    batcher = GroupCommit(saves, START_BATCH_MAX, rest=rest)
    saves.hold.clear()
    first = asyncio.ensure_future(batcher.submit(request(0)))
    await saves.entered.wait()
    waiting = [asyncio.ensure_future(batcher.submit(request(n))) for n in (1, 2)]
    saves.hold.set()
    assert await first == "r0"
    last = asyncio.ensure_future(batcher.submit(request(3)))
    assert await asyncio.gather(*waiting, last) == ["r1", "r2", "r3"]
    assert saves.batches == batches


async def test_a_slow_batch_makes_the_next_rest_no_longer_than_rest_max():
    """A batch that took ten seconds (a database hiccup) is followed by a rest of REST_MAX, not ten seconds."""
    clock = [0.0]
    saves = HeldSaves()
    batcher = GroupCommit(saves, START_BATCH_MAX, rest=True, clock=lambda: clock[0])
    saves.hold.clear()
    first = asyncio.ensure_future(batcher.submit(request(0)))
    await saves.entered.wait()
    second = asyncio.ensure_future(batcher.submit(request(1)))
    clock[0] += 10.0
    saves.hold.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), timeout=10 * REST_MAX) == ["r0", "r1"]


async def test_a_start_alone_does_not_rest():
    saves = HeldSaves()
    batcher = GroupCommit(saves, START_BATCH_MAX, rest=True)
    assert await batcher.submit(request(1)) == "r1"
    assert batcher.saving is None  # nothing waited, so the batcher went idle at once


async def test_a_burst_is_cut_into_batches_of_at_most_batch_max():
    saves = HeldSaves()
    batcher = GroupCommit(saves, START_BATCH_MAX)
    results = await asyncio.gather(*(batcher.submit(request(n)) for n in range(START_BATCH_MAX + 5)))
    assert results == [f"r{n}" for n in range(START_BATCH_MAX + 5)]
    assert [len(batch) for batch in saves.batches] == [START_BATCH_MAX, 5]


async def test_a_refusal_reaches_its_own_caller_only():
    batcher = GroupCommit(HeldSaves(), START_BATCH_MAX)
    outcomes = await asyncio.gather(
        batcher.submit(request(1)), batcher.submit(request(2, "refuse")), return_exceptions=True
    )
    assert outcomes[0] == "r1" and isinstance(outcomes[1], ReplyRefused)


async def test_a_failed_batch_fails_each_of_its_starts_and_the_next_batch_still_runs():
    calls = []

    async def failing_once(requests):
        calls.append(len(requests))
        if len(calls) == 1:
            raise ConnectionError("database gone")
        return [r.request_id for r in requests]

    batcher = GroupCommit(failing_once, START_BATCH_MAX)
    outcomes = await asyncio.gather(batcher.submit(request(1)), batcher.submit(request(2)), return_exceptions=True)
    assert [type(o) for o in outcomes] == [ConnectionError, ConnectionError]
    assert await batcher.submit(request(3)) == "r3"


async def test_a_caller_that_goes_away_leaves_the_others_answered():
    saves = HeldSaves()
    batcher = GroupCommit(saves, START_BATCH_MAX)
    saves.hold.clear()
    gone = asyncio.ensure_future(batcher.submit(request(1)))
    staying = asyncio.ensure_future(batcher.submit(request(2)))
    await saves.entered.wait()
    gone.cancel()
    saves.hold.set()
    assert await staying == "r2"
    with pytest.raises(asyncio.CancelledError):
        await gone


@pytest.mark.django_db(transaction=True)
async def test_the_start_thread_is_connected_before_the_first_send():
    """warm_up opens it, so the first send after start-up does not wait for a connection."""
    close_start_thread()
    await open_start_thread()
    alias = router.db_for_write(Message)
    try:
        assert start_thread().submit(lambda: connections[alias].connection is not None).result(timeout=5)
    finally:
        close_start_thread()
