"""Monthly budgets: refused at the start of the send that would go past them, on every surface, with
when they reset; a reply already streaming is never cut off by its own cost."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.test import AsyncClient
from django.utils import timezone

from conversations import generation
from conversations.accounting import next_month_start
from conversations.models import Budget, Conversation, LLMModel, Message, UsageRecord

from .catalog import add_model, priced

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.db,
    pytest.mark.usefixtures("close_thread_connections"),
]
SEVEN_TOKENS = "!sim tokens=3 tps=0 ttft=0"  # the simulator reports 4 prompt + 3 completion tokens


@pytest.fixture
async def chat(alice) -> Conversation:
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    return await Conversation.objects.acreate(owner=alice, title="A chat")


async def send(worker, user, chat, content: str, request_id: str) -> Message:
    started = await generation.start(user=user, conversation_id=chat.id, content=content, request_id=request_id)
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 10)
    return await Message.objects.aget(id=started.reply.id)


async def test_a_token_budget_reached_between_two_sends_refuses_the_second(worker, alice, chat):
    await Budget.objects.acreate(user=alice, monthly_tokens=10)
    first = await send(worker, alice, chat, SEVEN_TOKENS, "r1")
    second = await send(worker, alice, chat, SEVEN_TOKENS, "r2")  # 7 of 10 used: still allowed, and it goes past
    assert (first.status, second.status) == ("complete", "complete")
    with pytest.raises(generation.Refused) as refusal:
        await generation.start(user=alice, conversation_id=chat.id, content="more", request_id="r3")
    resets = next_month_start(timezone.now())
    assert refusal.value.code == "quota_exceeded"
    used = sum([r.prompt_tokens + r.completion_tokens async for r in UsageRecord.objects.all()])
    assert used > 10 and f"(10 tokens) is used up ({used} tokens" in refusal.value.detail
    assert f"resets on {resets.day} {resets:%B %Y} at 00:00 UTC" in refusal.value.detail
    assert await Message.objects.filter(conversation=chat).acount() == 4  # nothing of the refused send was saved


async def test_a_streaming_reply_is_never_cut_off_by_its_own_cost(worker, alice, chat):
    await Budget.objects.acreate(user=alice, monthly_tokens=5)
    reply = await send(worker, alice, chat, "!sim tokens=60 tps=0 ttft=0", "r1")
    assert (reply.status, reply.completion_tokens) == ("complete", 60)
    with pytest.raises(generation.Refused, match="used up"):
        await generation.start(user=alice, conversation_id=chat.id, content="more", request_id="r2")


async def test_a_cost_budget_counts_the_priced_usage(worker, alice, chat):
    model = await LLMModel.objects.aget(name="sim-a")
    await sync_to_async(priced)(model, "100000", "100000")  # 7 tokens cost $0.70
    await Budget.objects.acreate(user=alice, monthly_cost_usd=Decimal("0.50"))
    await send(worker, alice, chat, SEVEN_TOKENS, "r1")
    with pytest.raises(generation.Refused) as refusal:
        await generation.start(user=alice, conversation_id=chat.id, content="more", request_id="r2")
    assert "$0.50" in refusal.value.detail and "$0.70" in refusal.value.detail


async def test_a_group_budget_is_shared_by_its_members(worker, alice, bob, chat):
    team = await Group.objects.acreate(name="team")
    await sync_to_async(alice.groups.add)(team)
    await sync_to_async(bob.groups.add)(team)
    await Budget.objects.acreate(group=team, monthly_tokens=5)
    await send(worker, alice, chat, SEVEN_TOKENS, "r1")
    bobs = await Conversation.objects.acreate(owner=bob)
    with pytest.raises(generation.Refused) as refusal:
        await generation.start(user=bob, conversation_id=bobs.id, content="hi", request_id="b1")
    assert refusal.value.code == "quota_exceeded" and "your group team" in refusal.value.detail


async def test_the_socket_and_the_api_refuse_alike(worker, connect, alice, chat):
    await Budget.objects.acreate(user=alice, monthly_tokens=1)
    await send(worker, alice, chat, SEVEN_TOKENS, "r1")
    _, socket = await connect(alice, chat.id)
    await socket.receive()
    await socket.send(type="message.send", content="again", request_id="r2")
    frame = await socket.receive()
    assert (frame["type"], frame["code"], frame["request_id"]) == ("error", "quota_exceeded", "r2")
    api = AsyncClient()
    await api.aforce_login(alice)
    response = await api.post(
        f"/api/conversations/{chat.id}/messages/",
        {"content": "again", "request_id": "r3"},
        content_type="application/json",
    )
    assert response.status_code == 429 and response.json()["code"] == "quota_exceeded"
    assert response.json()["error"] == frame["detail"]
