"""The generation service, called as the consumer, the API and commands call it: start, stop, end once."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from conversations import generation, services
from conversations.models import Conversation, Message

SLOW = "!sim tokens=400 tps=100 ttft=0"
FAST = "!sim tokens=5 tps=500 ttft=0"
ENDLESS = "!sim tokens=5000 tps=100 ttft=0"  # fifty seconds: only a stop ends it within a test

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def saved(message_id) -> Message:
    return Message.objects.get(id=message_id)


@sync_to_async
def new_conversation(owner, **fields) -> Conversation:
    return Conversation.objects.create(owner=owner, title="A chat", **fields)


async def finished(worker, reply_id: str) -> None:
    """Wait for the reply's task to end; it is removed from `running` only after its final save."""
    running = worker.running.get(reply_id)
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 10)


async def test_a_reply_streams_to_completion_and_is_saved_once(worker, alice):
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=FAST, request_id="r1")
    await finished(worker, str(started.reply.id))
    reply = await saved(started.reply.id)
    assert reply.status == Message.Status.COMPLETE and reply.content and reply.seq >= 1
    assert str(started.reply.id) not in worker.running


async def test_the_broadcaster_sees_the_workers_start_batches(worker, alice):
    """Its hold follows them (realtime/broadcast.py: adapt_hold): each start is a batch begun."""
    before = worker.broadcaster.start_batches()
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=FAST, request_id="r1")
    assert worker.broadcaster.start_batches() == before + 1
    await finished(worker, str(started.reply.id))


async def test_the_worker_holds_every_task_it_starts_until_it_is_done(worker, alice):
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=FAST, request_id="r1")
    task = worker.running[str(started.reply.id)].task
    assert task in worker.tasks  # the loop keeps only weak references to tasks
    await finished(worker, str(started.reply.id))
    await asyncio.sleep(0)  # done callbacks run on the next loop pass
    assert task not in worker.tasks and {t.get_name() for t in worker.tasks} >= {"parley-broadcaster"}


async def test_a_stop_before_the_task_first_runs_still_ends_the_reply_once_as_cancelled(worker, alice):
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=SLOW, request_id="r1")
    reply_id = str(started.reply.id)
    assert not worker.running[reply_id].started  # nothing awaited since the start: its task has not run
    assert worker.stop_local(reply_id)
    await finished(worker, reply_id)
    reply = await saved(started.reply.id)
    assert (reply.status, reply.content, reply.finished_at is not None) == (Message.Status.CANCELLED, "", True)


async def test_a_stop_mid_stream_keeps_the_text_so_far(worker, alice):
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=SLOW, request_id="r1")
    running = worker.running[str(started.reply.id)]
    while not running.live.parts:  # noqa: ASYNC110  (waiting for the first published delta)
        await asyncio.sleep(0.01)
    await generation.stop(user=alice, conversation_id=conversation.id)
    await finished(worker, str(started.reply.id))
    reply = await saved(started.reply.id)
    assert reply.status == Message.Status.CANCELLED and reply.content.startswith(running.live.parts[0])


async def test_deleting_a_conversation_stops_its_running_reply(worker, alice):
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=ENDLESS, request_id="r1")
    running = worker.running[str(started.reply.id)]
    await sync_to_async(services.conversation_delete)(conversation=conversation)
    await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 10)
    assert running.stopped and str(started.reply.id) not in worker.running


async def test_stopping_someone_elses_conversation_reads_as_missing(worker, alice, bob):
    conversation = await new_conversation(alice)
    with pytest.raises(generation.Refused) as refusal:
        await generation.stop(user=bob, conversation_id=conversation.id)
    assert refusal.value.code == "not_found"
    with pytest.raises(generation.Refused) as refusal:
        await generation.stop(user=alice, conversation_id=conversation.id)
    assert refusal.value.code == "not_generating"


async def test_a_model_that_writes_nul_characters_still_has_its_reply_saved(worker, alice):
    """PostgreSQL stores no NUL: a reply carrying one failed its every save, and was lost."""
    conversation = await new_conversation(alice)
    content = "!sim tokens=20 tps=500 ttft=0 nul=1"
    started = await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r1")
    await finished(worker, str(started.reply.id))
    reply = await saved(started.reply.id)
    assert reply.status == Message.Status.COMPLETE and len(reply.content.split()) >= 10
    assert "\x00" not in reply.content
