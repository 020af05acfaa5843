"""A model limited to a group is refused identically on the socket, the JSON API and the generation service."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.test import AsyncClient

from conversations import generation
from conversations.models import Conversation, LLMModel, Message

from .catalog import add_model

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.db,
    pytest.mark.usefixtures("close_thread_connections"),
]
FAST = "!sim tokens=3 tps=0 ttft=0"


@pytest.fixture
async def research_model(alice) -> LLMModel:
    await sync_to_async(add_model)("sim", "sim-a", is_default=True)
    return await sync_to_async(add_model)("sim", "sim-r", groups=("research",))


@pytest.fixture
async def chat(alice) -> Conversation:
    return await Conversation.objects.acreate(owner=alice, title="A chat")


@pytest.fixture
async def api(alice) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(alice)
    return client


async def test_the_socket_refuses_a_send_naming_a_model_outside_the_users_groups(connect, alice, chat, research_model):
    accepted, socket = await connect(alice, chat.id)
    assert accepted
    await socket.receive()  # the snapshot
    await socket.send(type="message.send", content=FAST, request_id="r1", model=research_model.id)
    frame = await socket.receive()
    assert (frame["type"], frame["code"], frame["request_id"]) == ("error", "model_unavailable", "r1")
    assert not await Message.objects.filter(conversation=chat).aexists()


async def test_the_socket_refuses_a_model_id_that_is_not_a_number(connect, alice, chat, research_model):
    _, socket = await connect(alice, chat.id)
    await socket.receive()
    await socket.send(type="message.send", content=FAST, request_id="r1", model="sim-r")
    frame = await socket.receive()
    assert (frame["type"], frame["code"]) == ("error", "invalid_field") and "model" in frame["detail"]


async def test_the_api_refuses_the_same_send_and_the_same_choice(api, chat, research_model):
    sent = await api.post(
        f"/api/conversations/{chat.id}/messages/",
        {"content": FAST, "request_id": "r1", "model": research_model.id},
        content_type="application/json",
    )
    assert sent.status_code == 400 and sent.json()["code"] == "model_unavailable"
    chosen = await api.patch(
        f"/api/conversations/{chat.id}/", {"model": research_model.id}, content_type="application/json"
    )
    assert chosen.status_code == 400 and chosen.json()["code"] == "model_unavailable"
    listed = await api.get("/api/models/")
    assert research_model.id not in [model["id"] for model in listed.json()["models"]]
    assert not await Message.objects.filter(conversation=chat).aexists()


async def test_joining_the_group_opens_the_model_everywhere(worker, alice, chat, research_model):
    await sync_to_async(alice.groups.add)(await Group.objects.aget(name="research"))
    started = await generation.start(
        user=alice, conversation_id=chat.id, content=FAST, request_id="r1", model=research_model.id
    )
    assert started.reply.model == "sim-r"


async def test_leaving_the_group_closes_a_conversation_already_using_the_model(alice, chat, research_model):
    await Conversation.objects.filter(id=chat.id).aupdate(model=research_model)
    with pytest.raises(generation.Refused) as refusal:
        await generation.start(user=alice, conversation_id=chat.id, content=FAST, request_id="r1")
    assert refusal.value.code == "model_unavailable"
