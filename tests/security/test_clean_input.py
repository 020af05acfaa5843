"""NUL and other control characters are refused with a clear error, over the API and the socket.

PostgreSQL cannot store NUL: before this check a title or system prompt with one answered an HTML
500, and a `message.send` with one answered `internal_error` without its request_id. Nothing is
saved in any of these cases.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from conversations.models import Conversation, Message

pytestmark = pytest.mark.db

BAD_TEXTS = ["a\x00b", "\x00", "bell\x07", "escape\x1b[31m", "form\x0cfeed"]


@pytest.mark.parametrize("text", BAD_TEXTS)
@pytest.mark.parametrize("field", ["title", "system_prompt"])
def test_a_conversation_with_a_control_character_is_refused_with_400(alice_client, alice, field, text):
    response = alice_client.post("/api/conversations/", json.dumps({field: text}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and response.json()["field"] == field
    assert field in response.json()["error"]
    assert not Conversation.objects.filter(owner=alice).exists()


@pytest.mark.parametrize("field", ["title", "system_prompt"])
def test_an_edit_with_nul_is_refused_and_changes_nothing(alice_client, answered_conversation, field):
    path = f"/api/conversations/{answered_conversation.id}/"
    response = alice_client.patch(path, json.dumps({field: "x\x00y"}), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    fresh = Conversation.objects.get(id=answered_conversation.id)
    assert (fresh.title, fresh.system_prompt) == (answered_conversation.title, answered_conversation.system_prompt)


def test_tabs_and_newlines_are_ordinary_text(alice_client):
    body = {"title": "tab\there", "system_prompt": "line one\r\nline two\n"}
    response = alice_client.post("/api/conversations/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    assert response.json()["system_prompt"] == body["system_prompt"]


def test_a_search_with_nul_is_a_400(alice_client, answered_conversation):
    response = alice_client.get("/api/conversations/", {"q": "Lis\x00bon"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


@pytest.mark.usefixtures("worker")
def test_a_message_with_nul_over_the_api_is_refused_and_saves_nothing(alice_client, answered_conversation):
    path = f"/api/conversations/{answered_conversation.id}/messages/"
    body = {"content": "hello\x00world", "request_id": "api-nul"}
    response = alice_client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert answered_conversation.messages.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("text", BAD_TEXTS)
async def test_a_send_with_a_control_character_gets_invalid_echoing_its_request_id(connect, alice, text):
    conversation = await sync_to_async(Conversation.objects.create)(owner=alice, title="clean")
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content=text, request_id="nul-1")
    error = await socket.receive()
    assert error == {"type": "error", "code": "invalid", "detail": error["detail"], "request_id": "nul-1"}
    assert "content" in error["detail"]
    assert not await sync_to_async(Message.objects.filter(conversation=conversation).exists)()
    await socket.send(type="message.send", content="!sim tokens=3 tps=0 ttft=0", request_id="ok-1")
    assert (await socket.receive_until("message.completed"))[-1]["message"]["status"] == "complete"


@pytest.mark.django_db(transaction=True)
async def test_a_request_id_with_nul_is_refused_and_echoed(connect, alice):
    conversation = await sync_to_async(Conversation.objects.create)(owner=alice, title="clean")
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content="hi", request_id="r\x00")
    error = await socket.receive()
    assert (error["code"], error["request_id"]) == ("invalid", "r\x00")
    await socket.send(type="message.regenerate", request_id="x" * 101)
    error = await socket.receive()
    assert (error["code"], error["request_id"]) == ("invalid_field", "x" * 101)


@pytest.mark.django_db(transaction=True)
async def test_a_rate_limited_frame_is_answered_with_its_request_id(connect, alice, settings):
    settings.PARLEY_WS_RATE = 1.0
    conversation = await sync_to_async(Conversation.objects.create)(owner=alice, title="clean")
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="generation.stop", request_id="s1")
    await socket.send(type="generation.stop", request_id="s2")
    answers = {(frame["code"], frame["request_id"]) for frame in [await socket.receive(), await socket.receive()]}
    assert answers == {("not_generating", "s1"), ("rate_limited", "s2")}


@pytest.mark.django_db(transaction=True)
async def test_a_refused_sync_echoes_its_request_id(connect, alice, bob):
    conversation = await sync_to_async(Conversation.objects.create)(owner=alice, title="clean")
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    conversation.owner = bob
    await sync_to_async(conversation.save)()
    await socket.send(type="sync", request_id="sync-1")
    error = await socket.receive()
    assert (error["code"], error["request_id"]) == ("not_found", "sync-1")
