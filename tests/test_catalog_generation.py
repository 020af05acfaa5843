"""Replies use the model the catalog names: per conversation, per send, across providers of different kinds."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from conversations import generation, services
from conversations.models import Conversation, LLMModel, Message
from tests.llm.conftest import Reply, ScriptedServer

from .catalog import add_model, ollama_lines

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.db]
FAST = "!sim tokens=3 tps=0 ttft=0"
NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
async def ollama():
    """A local server speaking Ollama's /api/chat, streaming one fixed reply per request."""
    server = await ScriptedServer([Reply(headers=NDJSON, steps=[ollama_lines("Olá", " mundo")])]).start()
    yield server
    await server.close()


@sync_to_async
def new_conversation(owner, model: LLMModel | None = None) -> Conversation:
    return Conversation.objects.create(owner=owner, title="A chat", model=model)


async def reply_of(worker, started) -> Message:
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 10)
    return await sync_to_async(Message.objects.get)(id=started.reply.id)


async def send(worker, user, conversation, content: str = FAST, request_id: str = "r1", **options) -> Message:
    started = await generation.start(
        user=user, conversation_id=conversation.id, content=content, request_id=request_id, **options
    )
    return await reply_of(worker, started)


async def test_two_providers_of_different_kinds_stream_at_once(worker, alice, ollama):
    simulated = await sync_to_async(add_model)("sim", "sim-a")
    local = await sync_to_async(add_model)("local", "llama-test", kind="ollama", base_url=ollama.url)
    one, two = await new_conversation(alice, simulated), await new_conversation(alice, local)
    first, second = await asyncio.gather(send(worker, alice, one), send(worker, alice, two))
    assert (first.status, first.model) == ("complete", "sim-a")  # the simulator reports the model asked for
    assert (second.status, second.model, second.content) == ("complete", "llama-test", "Olá mundo")
    assert ollama.requests[0]["json"]["model"] == "llama-test"
    assert ollama.requests[0]["line"] == "POST /api/chat HTTP/1.1"


async def test_switching_the_model_mid_conversation_changes_the_next_reply_only(worker, alice, ollama):
    simulated = await sync_to_async(add_model)("sim", "sim-a")
    local = await sync_to_async(add_model)("local", "llama-test", kind="ollama", base_url=ollama.url)
    conversation = await new_conversation(alice, simulated)
    first = await send(worker, alice, conversation, "!sim echo=1\nFirst question", "r1")
    await sync_to_async(services.conversation_update)(conversation=conversation, model=local)
    second = await send(worker, alice, conversation, "Second question", "r2")
    assert [first.model, second.model] == ["sim-a", "llama-test"]
    history = ollama.requests[0]["json"]["messages"]
    assert [m["content"] for m in history] == ["!sim echo=1\nFirst question", "First question", "Second question"]
    assert (await sync_to_async(Message.objects.get)(id=first.id)).model == "sim-a"  # earlier replies keep theirs


async def test_a_send_may_name_a_model_for_that_reply_alone(worker, alice):
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    other = await sync_to_async(add_model)("sim", "sim-b")
    conversation = await new_conversation(alice)
    once = await send(worker, alice, conversation, request_id="r1", model=other.id)
    after = await send(worker, alice, conversation, request_id="r2")
    assert [once.model, after.model] == ["sim-b", "sim-a"]
    assert (await sync_to_async(Conversation.objects.get)(id=conversation.id)).model_id is None


async def test_extra_headers_and_the_stored_key_reach_the_provider(worker, alice, ollama, settings):
    settings.PARLEY_ENCRYPTION_KEY = ["8x7G8VbV-Jm0oNf3Dgqg1QmK6qJxw7mJ2u8jq3G1E1c="]

    @sync_to_async
    def keyed_model() -> LLMModel:
        model = add_model("local", "llama-test", kind="ollama", base_url=ollama.url)
        model.provider.extra_headers = {"X-Team": "blue"}
        model.provider.set_api_key("sk-test-secret-123456")
        model.provider.save()
        return model

    conversation = await new_conversation(alice, await keyed_model())
    await send(worker, alice, conversation)
    headers = ollama.requests[0]["headers"]
    assert headers["x-team"] == "blue" and headers["authorization"] == "Bearer sk-test-secret-123456"


@pytest.mark.parametrize("change", ["disable", "delete"])
async def test_a_model_disabled_or_deleted_under_a_conversation_is_refused_clearly(worker, alice, change):
    model = await sync_to_async(add_model)("sim", "sim-a")
    conversation = await new_conversation(alice, model)
    if change == "disable":
        await sync_to_async(LLMModel.objects.filter(id=model.id).update)(enabled=False)
    else:
        await sync_to_async(model.delete)()
    with pytest.raises(generation.Refused) as refusal:
        await generation.start(user=alice, conversation_id=conversation.id, content="hi", request_id="r1")
    assert refusal.value.code == "model_unavailable" and "pick another" in refusal.value.detail
    assert await sync_to_async(Message.objects.filter(conversation=conversation).count)() == 0  # nothing half-done
