"""Earlier turns' tool calls reach later prompts: a follow-up question can refer to what a tool
returned, through the real simulator (which says what it was sent), and a call stopped before its
result is replayed with an error result. Existing conversations with tool calls are flagged by the
migration, so their replies replay too."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from conversations import generation
from conversations.models import Conversation, Message
from conversations.parts import UNFINISHED_CALL
from conversations.tools import registry
from tests.tool_fixtures import Gate, stop_mid_call

pytestmark = pytest.mark.django_db(transaction=True)
RECALL = "!sim recall=1 tps=0 ttft=0\nWhat did the tool say?"


@pytest.fixture(autouse=True)
def tools_on(settings):
    settings.PARLEY_TOOLS = ["conversations.tools.examples.calculate", "tests.tool_fixtures.held"]
    Gate.reset()
    yield
    registry.load_tools.cache_clear()


async def send(worker, user, conversation, content: str, request_id: str):
    started = await generation.start(user=user, conversation_id=conversation.id, content=content, request_id=request_id)
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 20)
    return started, await Message.objects.aget(id=started.reply.id)


async def test_a_follow_up_question_reaches_the_model_with_the_earlier_call_and_result(worker, alice):
    conversation = await Conversation.objects.acreate(owner=alice, title="Tools")
    content = '!sim tool=calculate:{"expression":"6*7"} echo=1 tps=0 ttft=0\nLet me work it out.'
    _, first = await send(worker, alice, conversation, content, "r1")
    assert first.content == "Let me work it out.\n\nTool result: 42."
    assert (await Conversation.objects.aget(id=conversation.id)).has_tool_calls

    started, follow_up = await send(worker, alice, conversation, RECALL, "r2")
    assert follow_up.content == 'Earlier tool calls: calculate({"expression":"6*7"}) returned 42.'
    roles = [turn["role"] for turn in started.history]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert (
        started.history[1]["content"] == "Let me work it out." and started.history[3]["content"] == "Tool result: 42."
    )


async def test_a_call_stopped_before_its_result_is_replayed_as_unfinished(worker, alice):
    conversation = await Conversation.objects.acreate(owner=alice, title="Tools")
    await stop_mid_call(worker, alice, conversation)
    _, follow_up = await send(worker, alice, conversation, RECALL, "r2")
    assert follow_up.content == f'Earlier tool calls: held({{"note":"x"}}) returned {UNFINISHED_CALL}.'


async def test_a_call_cut_off_while_the_model_wrote_it_is_kept_but_not_sent_to_the_model(worker, alice, monkeypatch):
    conversation = await Conversation.objects.acreate(owner=alice, title="Tools")
    half_shown, show_calls = asyncio.Event(), worker.show_calls

    def showing(running, calls):
        show_calls(running, calls)
        if calls[-1]["arguments"] == '{"note':
            half_shown.set()

    monkeypatch.setattr(worker, "show_calls", showing)
    content = '!sim tool=held:{"note":"x"} tool_stall=1 echo=1 tps=0 ttft=0\nLooking.'
    started = await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r1")
    await asyncio.wait_for(half_shown.wait(), 10)
    await generation.stop(user=alice, conversation_id=conversation.id)
    await asyncio.wait_for(asyncio.gather(worker.running[str(started.reply.id)].task, return_exceptions=True), 10)
    cut = await Message.objects.aget(id=started.reply.id)
    assert [(p["type"], p.get("partial")) for p in cut.parts] == [("text", None), ("tool_call", True)]

    started, follow_up = await send(worker, alice, conversation, RECALL, "r2")
    assert follow_up.content == "No earlier tool calls."
    assert started.history[1] == {"role": "assistant", "content": "Looking."}


async def test_a_conversation_without_tool_calls_sends_plain_turns(worker, alice):
    conversation = await Conversation.objects.acreate(owner=alice, title="Plain")
    await send(worker, alice, conversation, "!sim tokens=3 tps=0 ttft=0\nHi", "r1")
    started, follow_up = await send(worker, alice, conversation, RECALL, "r2")
    assert follow_up.content == "No earlier tool calls."
    assert not (await Conversation.objects.aget(id=conversation.id)).has_tool_calls
    assert all(set(turn) == {"role", "content"} for turn in started.history)


@pytest.mark.db
def test_the_migration_flags_conversations_whose_replies_called_tools(alice):
    before, after = (
        [("conversations", "0015_conversation_imported_bytes")],
        [("conversations", "0016_tool_narrowing_and_replay")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Conversation_, Message_ = (old.get_model("conversations", name) for name in ("Conversation", "Message"))
    with_calls, plain = (Conversation_.objects.create(owner_id=alice.pk, title=t) for t in ("Tools", "Plain"))
    call = {"type": "tool_call", "id": "c1", "name": "calculate", "arguments": "{}"}
    Message_.objects.create(conversation=with_calls, position=0, role="assistant", content="", parts=[call])
    Message_.objects.create(
        conversation=plain, position=0, role="assistant", content="Hi", parts=[{"type": "text", "text": "Hi"}]
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("conversations", "Conversation")
    assert new.objects.get(id=with_calls.id).has_tool_calls and not new.objects.get(id=plain.id).has_tool_calls
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("conversations"))
