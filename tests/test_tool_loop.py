"""The tool loop inside a generation, through the real simulator: calls, results, errors, stop, limits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading

import pytest
from asgiref.sync import sync_to_async

from conversations import generation
from conversations.catalog.environment import ensure_catalog
from conversations.llm.simulator.script import markdown_reply
from conversations.models import Conversation, LLMModel, Message
from conversations.tools import registry
from tests.tool_fixtures import Gate, call_starts, stop_mid_call

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = [
    "tests.tool_fixtures.held",
    "tests.tool_fixtures.broken",
    "tests.tool_fixtures.count_messages",
    "tests.tool_fixtures.slow",
    "conversations.tools.examples.calculate",
    "tests.tool_fixtures.count_elsewhere:process",
    "tests.tool_fixtures.hold:process",
]


@pytest.fixture(autouse=True)
def tools_on(settings):
    settings.PARLEY_TOOLS = TOOLS  # the simulator's catalog model is flagged `tools`
    Gate.reset()
    yield
    registry.load_tools.cache_clear()


@sync_to_async
def saved(message_id) -> Message:
    return Message.objects.get(id=message_id)


@sync_to_async
def new_conversation(owner) -> Conversation:
    return Conversation.objects.create(owner=owner, title="Tools")


async def ask(worker, user, content: str) -> Message:
    """Send a message and wait for its reply to be saved; the reply."""
    conversation = await new_conversation(user)
    started = await generation.start(user=user, conversation_id=conversation.id, content=content, request_id="r1")
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 20)
    return await saved(started.reply.id)


def kinds(reply: Message) -> list[str]:
    return [part["type"] for part in reply.parts]


async def test_a_sync_orm_tool_runs_off_the_loop_and_its_result_reaches_the_model(worker, alice):
    reply = await ask(worker, alice, "!sim tool=count_messages:{} tps=0 ttft=0\nHow many?")
    assert reply.status == Message.Status.COMPLETE
    assert kinds(reply) == ["tool_call", "tool_result", "text"]
    call, result, text = reply.parts
    assert (call["name"], call["arguments"]) == ("count_messages", "{}")
    assert (result["call_id"], result["content"], result["is_error"]) == (call["id"], "2", False)
    assert reply.content == text["text"] == "Tool result: 2."
    assert Gate.thread_ids and threading.get_ident() not in Gate.thread_ids


async def test_a_sync_orm_tool_listed_with_process_runs_in_a_worker_process(worker, alice):
    reply = await ask(worker, alice, "!sim tool=count_elsewhere:{} tps=0 ttft=0\nHow many?")
    assert reply.status == Message.Status.COMPLETE
    assert kinds(reply) == ["tool_call", "tool_result", "text"]
    answer = json.loads(reply.parts[1]["content"])
    assert answer["messages"] == 2 and answer["pid"] != os.getpid()
    assert reply.content == f"Tool result: {reply.parts[1]['content']}."


async def test_stop_during_a_call_in_a_worker_process_ends_the_reply_cancelled(worker, alice):
    conversation = await new_conversation(alice)
    async with call_starts() as (port, started):
        content = f'!sim tool=hold:{{"seconds":600,"port":{port}}} tps=0 ttft=0\nGo'
        reply = await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r1")
        pid = await asyncio.wait_for(started.get(), 60)
        await generation.stop(user=alice, conversation_id=conversation.id)
        await asyncio.wait_for(asyncio.gather(worker.running[str(reply.reply.id)].task, return_exceptions=True), 10)
    stopped = await saved(reply.reply.id)
    assert stopped.status == Message.Status.CANCELLED
    assert kinds(stopped) == ["tool_call"] and stopped.parts[0]["name"] == "hold"
    os.kill(pid, signal.SIGKILL)  # its call goes on after a stop (to its timeout); this test is done with it


async def test_text_before_a_call_and_after_it_are_two_text_parts_joined_by_a_blank_line(worker, alice):
    content = '!sim tool=calculate:{"expression":"6*7"} echo=1 tps=0 ttft=0\nLet me work it out.'
    reply = await ask(worker, alice, content)
    assert kinds(reply) == ["text", "tool_call", "tool_result", "text"]
    assert reply.parts[0]["text"] == "Let me work it out." and reply.parts[2]["content"] == "42"
    assert reply.content == "Let me work it out.\n\nTool result: 42."


async def test_a_tool_that_raises_becomes_its_result_and_the_reply_completes(worker, alice):
    reply = await ask(worker, alice, '!sim tool=broken:{"reason":"disk-on-fire"} tps=0 ttft=0\nGo')
    assert reply.status == Message.Status.COMPLETE
    result = reply.parts[1]
    assert result["is_error"] and "RuntimeError: disk-on-fire" in result["content"]
    assert "disk-on-fire" in reply.content  # the model saw the error as the tool's answer


@pytest.mark.parametrize(
    ("directive", "error"),
    [
        ('tool=calculate:{"expression":"1+1"} tool_malformed=1', "not valid JSON"),
        ("tool=no_such_tool:{}", "There is no tool named 'no_such_tool'"),
        ('tool=calculate:{"wrong":1}', "could not be called"),
        ('tool=calculate:{"expression":"__import__(\'os\')"}', "not allowed"),
    ],
)
async def test_bad_calls_are_answered_with_an_error_result(worker, alice, directive, error):
    reply = await ask(worker, alice, f"!sim {directive} tps=0 ttft=0\nGo")
    assert reply.status == Message.Status.COMPLETE
    result = reply.parts[1]
    assert result["type"] == "tool_result" and result["is_error"] and error in result["content"]


async def test_a_tool_past_its_timeout_is_reported_to_the_model(worker, alice, settings):
    settings.PARLEY_TOOL_TIMEOUT = 0.2
    reply = await ask(worker, alice, '!sim tool=held:{"note":"x"} tps=0 ttft=0\nGo')
    assert reply.status == Message.Status.COMPLETE
    assert reply.parts[1]["is_error"] and "did not answer within 0.2 seconds" in reply.parts[1]["content"]


async def test_a_model_that_keeps_calling_stops_at_the_step_limit(worker, alice, settings):
    settings.PARLEY_TOOL_MAX_STEPS = 2
    reply = await ask(worker, alice, '!sim tool=calculate:{"expression":"1"} tool_steps=5 tps=0 ttft=0\nGo')
    assert reply.status == Message.Status.FAILED and "after 2 rounds" in reply.error
    assert kinds(reply) == ["tool_call", "tool_result"] * 2


async def test_several_rounds_each_run_and_go_back(worker, alice):
    reply = await ask(worker, alice, '!sim tool=calculate:{"expression":"2+2"} tool_steps=3 tps=0 ttft=0\nGo')
    assert reply.status == Message.Status.COMPLETE
    assert kinds(reply) == ["tool_call", "tool_result"] * 3 + ["text"]
    assert reply.content == "Tool result: 4. Tool result: 4. Tool result: 4."
    assert reply.usage is not None and reply.completion_tokens == len(reply.content.split())


async def test_stop_during_a_tool_call_ends_the_reply_cancelled_with_the_call_kept(worker, alice):
    reply = await saved(await stop_mid_call(worker, alice, await new_conversation(alice)))
    assert reply.status == Message.Status.CANCELLED
    assert kinds(reply) == ["tool_call"] and reply.parts[0]["name"] == "held"


async def test_models_not_flagged_are_offered_no_tools(worker, alice):
    await sync_to_async(ensure_catalog)()
    await LLMModel.objects.aupdate(tools=False)
    reply = await ask(worker, alice, "!sim tool=count_messages:{} tokens=3 tps=0 ttft=0\nHi")
    assert reply.status == Message.Status.COMPLETE and kinds(reply) == ["text"]
    assert reply.parts[0]["text"] == reply.content


async def test_the_parts_are_saved_while_a_tool_runs(worker, alice):
    conversation = await new_conversation(alice)
    content = '!sim tool=held:{"note":"y"} echo=1 tps=0 ttft=0\nChecking.'
    started = await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r1")
    await asyncio.wait_for(Gate.started.wait(), 10)
    during = await saved(started.reply.id)
    assert during.status == Message.Status.STREAMING
    assert [p["type"] for p in during.parts] == ["text", "tool_call"]
    assert json.loads(during.parts[1]["arguments"]) == {"note": "y"}
    Gate.release.set()
    await asyncio.wait_for(asyncio.gather(worker.running[str(started.reply.id)].task, return_exceptions=True), 10)
    reply = await saved(started.reply.id)
    assert reply.parts[2]["content"] == "released y" and reply.content == "Checking.\n\nTool result: released y."


async def test_a_sync_orm_tool_runs_while_other_replies_stream_and_none_loses_a_token(worker, alice, settings):
    """Correctness only (docs/performance.md has the latency bench): every stream beside the tool ends
    complete with exactly its text, and the tool's query answers."""
    settings.PARLEY_MAX_GENERATIONS_PER_USER = 50
    streams = []
    for index in range(20):
        conversation = await new_conversation(alice)
        content = f"!sim tokens=60 seed={index} tps=20 ttft=0\nStream {index}"
        streams.append(
            await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r")
        )
    tool_reply = await ask(worker, alice, "!sim tool=count_messages:{} tps=0 ttft=0\nHow many?")
    assert any(str(started.reply.id) in worker.running for started in streams)  # the tool ran beside them
    for started in streams:
        running = worker.running.get(str(started.reply.id))
        if running is not None:
            await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 30)
    assert tool_reply.status == Message.Status.COMPLETE and tool_reply.content == "Tool result: 2."
    for index, started in enumerate(streams):
        reply = await saved(started.reply.id)
        assert reply.status == Message.Status.COMPLETE
        assert reply.content == "".join(markdown_reply(index, 60))
