"""Each reply stores its usage as the provider reported it (or an estimate, marked), its cost at the
prices of the moment, and a usage record that outlives the conversation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from conversations import generation, services
from conversations.models import Conversation, Message, UsageRecord
from tests.llm.conftest import Reply, ScriptedServer

from .catalog import add_model, ollama_lines, priced

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.db]
NDJSON = {"content-type": "application/x-ndjson"}


async def finished(worker, started) -> Message:
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 10)
    return await Message.objects.aget(id=started.reply.id)


async def send(worker, user, conversation, content: str, request_id: str) -> Message:
    started = await generation.start(user=user, conversation_id=conversation.id, content=content, request_id=request_id)
    return await finished(worker, started)


@pytest.fixture
async def ollama():
    """Reports 9 prompt and 2 completion tokens for every reply."""
    server = await ScriptedServer([Reply(headers=NDJSON, steps=[ollama_lines("Olá", " mundo")])]).start()
    yield server
    await server.close()


async def test_usage_is_stored_exactly_as_the_upstream_reported_it(worker, alice, ollama):
    model = await sync_to_async(add_model)("local", "llama-test", kind="ollama", base_url=ollama.url)
    await sync_to_async(priced)(model, "1.50", "2.00")
    conversation = await Conversation.objects.acreate(owner=alice, model=model)
    reply = await send(worker, alice, conversation, "hi", "r1")
    assert reply.usage == {"prompt_tokens": 9, "completion_tokens": 2, "cost_usd": 0.0000175, "estimated": False}
    record = await UsageRecord.objects.aget()
    assert (record.user_id, record.model_id, record.model_label, record.upstream_model, record.provider) == (
        alice.id, model.id, "LLAMA-TEST", "llama-test", "local",
    )  # fmt: skip
    assert (record.prompt_tokens, record.completion_tokens, record.cost_usd) == (9, 2, Decimal("0.0000175"))


async def test_the_simulator_is_asked_for_usage_in_the_stream_and_its_numbers_kept(worker, alice):
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    conversation = await Conversation.objects.acreate(owner=alice)
    reply = await send(worker, alice, conversation, "!sim tokens=3 tps=0 ttft=0", "r1")
    # The simulator counts the prompt's words (4) and the tokens it sent (3).
    assert reply.usage == {"prompt_tokens": 4, "completion_tokens": 3, "cost_usd": 0.0, "estimated": False}


async def test_a_stopped_reply_without_reported_usage_stores_an_estimate_marked_as_one(worker, alice):
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    conversation = await Conversation.objects.acreate(owner=alice)
    started = await generation.start(
        user=alice, conversation_id=conversation.id, content="!sim tokens=5000 tps=200 ttft=0", request_id="r1"
    )
    running = worker.running[str(started.reply.id)]
    while not running.live.content:  # noqa: ASYNC110  (waiting for the first published text)
        await asyncio.sleep(0.01)
    await generation.stop(user=alice, conversation_id=conversation.id)
    reply = await finished(worker, started)
    assert reply.status == "cancelled" and reply.usage["estimated"] is True
    assert reply.completion_tokens == -(-len(reply.content) // 4)
    assert reply.prompt_tokens == -(-len("!sim tokens=5000 tps=200 ttft=0") // 4)


async def test_each_reply_is_priced_at_the_prices_of_its_moment(worker, alice):
    model = await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    await sync_to_async(priced)(model, "1", "2")
    conversation = await Conversation.objects.acreate(owner=alice)
    first = await send(worker, alice, conversation, "!sim tokens=3 tps=0 ttft=0", "r1")
    await sync_to_async(priced)(model, "10", "20")
    second = await send(worker, alice, conversation, "!sim tokens=3 tps=0 ttft=0", "r2")
    first_cost = (Decimal(1) * first.prompt_tokens + Decimal(2) * first.completion_tokens) / 1_000_000
    second_cost = (Decimal(10) * second.prompt_tokens + Decimal(20) * second.completion_tokens) / 1_000_000
    assert (first.cost_usd, second.cost_usd) == (first_cost, second_cost)
    assert (await Message.objects.aget(id=first.id)).cost_usd == first_cost  # the new prices rewrote nothing
    costs = [record.cost_usd async for record in UsageRecord.objects.order_by("created_at")]
    assert costs == [first_cost, second_cost]


async def test_usage_records_outlive_the_conversation(worker, alice):
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    conversation = await Conversation.objects.acreate(owner=alice)
    await send(worker, alice, conversation, "!sim tokens=3 tps=0 ttft=0", "r1")
    await sync_to_async(services.conversation_delete)(conversation=conversation)
    record = await UsageRecord.objects.aget()
    assert (record.message_id, record.completion_tokens) == (None, 3)
