"""Titles written by the task model after a chat's first reply: reasoning stripped, pushed to every tab,
and the first message's 60 characters kept when it fails or the user chose a title."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from conversations import generation, services
from conversations.models import Conversation
from conversations.titles import automatic, clean_title
from tests.llm.conftest import Reply, ScriptedServer, json_reply

from .catalog import add_model, ollama_lines

NDJSON = {"content-type": "application/x-ndjson"}
FIRST = "!sim tokens=3 tps=0 ttft=0\nWhere should we eat in Lisbon on a rainy Sunday evening with two small kids?"


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ('<think>The user asks about food.\nMaybe…</think>\n"Lisbon food tips"', "Lisbon food tips"),
        ("Title: **Rainy Sunday dinner.**", "Rainy Sunday dinner"),
        ("# Kids and pastries\nmore text", "Kids and pastries"),
        ("<think>never closed, the model ran out of tokens", ""),
        ("  \n\n", ""),
        ("word " * 30, ("word " * 12).strip()[:59] + "…"),
    ],
)
def test_a_models_answer_is_cleaned_to_a_title(answer, title):
    assert clean_title(answer) == title


def test_only_a_title_nobody_chose_is_replaced():
    assert automatic("New chat", "anything")
    assert automatic(FIRST.splitlines()[0], FIRST)  # the page names a chat after the first line
    assert automatic(" ".join(FIRST.split())[:60], FIRST)  # the server after the whole message
    assert not automatic("My trip", FIRST)


@pytest.fixture
async def task_server():
    """The task model's server: it thinks aloud before answering, as reasoning models do."""
    server = await ScriptedServer(
        [Reply(headers=NDJSON, steps=[ollama_lines("<think>They want", " food.</think>", '"Lisbon rainy dinner"')])]
    ).start()
    yield server
    await server.close()


async def first_reply(worker, alice, conversation, content: str = FIRST) -> None:
    started = await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r1")
    await asyncio.wait_for(asyncio.gather(worker.running[str(started.reply.id)].task), 10)
    naming = [task for task in worker.tasks if task.get_name().startswith("parley-title-")]
    await asyncio.wait_for(asyncio.gather(*naming), 10)


@pytest.mark.django_db(transaction=True)
@pytest.mark.db
async def test_the_task_model_names_the_chat_and_every_tab_hears_it(connect, worker, alice, settings, task_server):
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    await sync_to_async(add_model)("cheap", "tiny", kind="ollama", base_url=task_server.url)
    settings.PARLEY_TASK_MODEL = "cheap/tiny"
    conversation = await Conversation.objects.acreate(owner=alice)
    _, tab = await connect(alice, conversation.id)
    await tab.receive()
    _, elsewhere = await connect(alice, (await Conversation.objects.acreate(owner=alice)).id, query="watch=all")
    await elsewhere.receive()  # a tab on another chat, whose sidebar lists this one
    await first_reply(worker, alice, conversation)
    frames = await tab.receive_until("conversation.updated")
    assert frames[-1]["conversation"]["title"] == "Lisbon rainy dinner"
    other = await elsewhere.receive()
    assert (other["type"], other["conversation"]["id"]) == ("conversation.updated", str(conversation.id))
    assert other["conversation"]["title"] == "Lisbon rainy dinner"
    assert (await Conversation.objects.aget(id=conversation.id)).title == "Lisbon rainy dinner"
    asked = task_server.requests[0]["json"]
    assert asked["model"] == "tiny" and "Where should we eat in Lisbon" in asked["messages"][-1]["content"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.db
async def test_without_a_task_model_the_chats_own_model_writes_it(worker, alice, settings):
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    settings.PARLEY_TASK_MODEL = ""
    conversation = await Conversation.objects.acreate(owner=alice)
    await first_reply(worker, alice, conversation)
    title = (await Conversation.objects.aget(id=conversation.id)).title
    assert title.startswith("Notes on") and title.endswith("(simulated)")  # the simulator's reply, cleaned


@pytest.mark.django_db(transaction=True)
@pytest.mark.db
async def test_a_failing_task_model_leaves_the_first_messages_title(worker, alice, settings):
    server = await ScriptedServer([json_reply(500, {"error": "down"})]).start()
    try:
        await sync_to_async(add_model)("sim", "sim-a", is_default=True)
        await sync_to_async(add_model)("cheap", "tiny", kind="ollama", base_url=server.url)
        settings.PARLEY_TASK_MODEL, settings.LLM_MAX_ATTEMPTS = "cheap/tiny", 1
        conversation = await Conversation.objects.acreate(owner=alice)
        await first_reply(worker, alice, conversation)
        assert (await Conversation.objects.aget(id=conversation.id)).title == " ".join(FIRST.split())[:60]
    finally:
        await server.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.db
async def test_a_title_the_user_chose_is_never_replaced(worker, alice, settings, task_server):
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    await sync_to_async(add_model)("cheap", "tiny", kind="ollama", base_url=task_server.url)
    settings.PARLEY_TASK_MODEL = "cheap/tiny"
    conversation = await Conversation.objects.acreate(owner=alice, title="Our Lisbon trip")
    await first_reply(worker, alice, conversation)
    await sync_to_async(services.conversation_update)(conversation=conversation, title="Our Lisbon trip")
    assert (await Conversation.objects.aget(id=conversation.id)).title == "Our Lisbon trip"
    assert task_server.requests == []  # not even asked
