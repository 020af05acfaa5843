"""Sending, regenerating and stopping over the JSON API: the same generation service as the socket."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from conversations.models import Conversation, Message

FAST = "!sim tokens=5 tps=500 ttft=0"
ENDLESS = "!sim tokens=5000 tps=100 ttft=0"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]


async def ended(worker, reply_id: str) -> Message:
    running = worker.running.get(reply_id)
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 10)
    return await Message.objects.aget(id=reply_id)


async def post(api: AsyncClient, chat: Conversation, action: str, body: dict | None = None):
    return await api.post(f"/api/conversations/{chat.id}/{action}/", body or {}, content_type="application/json")


async def test_a_sent_message_streams_a_reply_and_a_retry_answers_the_same(api, chat, worker):
    response = await post(api, chat, "messages", {"content": FAST, "request_id": "r1"})
    assert response.status_code == 202
    body = response.json()
    assert (body["user_message"]["content"], body["reply"]["status"]) == (FAST, "streaming")
    reply = await ended(worker, body["reply"]["id"])
    assert reply.status == Message.Status.COMPLETE and reply.content

    again = await post(api, chat, "messages", {"content": FAST, "request_id": "r1"})
    assert again.status_code == 200 and again.json()["reply"]["id"] == body["reply"]["id"]
    assert await Message.objects.filter(conversation=chat).acount() == 2


async def test_stop_ends_the_reply_with_its_text_kept_and_busy_is_a_conflict(api, chat, worker):
    reply_id = (await post(api, chat, "messages", {"content": ENDLESS, "request_id": "r1"})).json()["reply"]["id"]
    busy = await post(api, chat, "messages", {"content": "again", "request_id": "r2"})
    assert (busy.status_code, busy.json()["code"]) == (409, "busy")
    assert (await post(api, chat, "stop")).status_code == 202
    reply = await ended(worker, reply_id)
    assert reply.status == Message.Status.CANCELLED
    nothing = await post(api, chat, "stop")
    assert (nothing.status_code, nothing.json()["code"]) == (409, "not_generating")


async def test_regenerate_adds_a_sibling_in_place_of_the_last_reply(api, chat, worker):
    first = (await post(api, chat, "messages", {"content": FAST, "request_id": "r1"})).json()["reply"]["id"]
    await ended(worker, first)
    response = await post(api, chat, "regenerate", {"request_id": "g1"})
    assert response.status_code == 202 and response.json()["replaces"] == first
    reply = await ended(worker, response.json()["reply"]["id"])
    assert await Message.objects.filter(id=first).aexists()  # kept as the other branch
    assert str(reply.parent_id) == response.json()["reply"]["parent_id"]
    assert response.json()["reply"]["sibling_count"] == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"content": "", "request_id": "r1"}, "invalid_field"),
        ({"content": "hi"}, "invalid_field"),
        ({}, "invalid_field"),
    ],
)
async def test_bad_bodies_are_400_with_the_protocols_error_code(api, chat, body, code):
    response = await post(api, chat, "messages", body)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert not await Message.objects.filter(conversation=chat).aexists()


async def test_someone_elses_conversation_is_404_and_anonymous_is_401(chat, bob):
    stranger = AsyncClient()
    await stranger.aforce_login(bob)
    for action in ("messages", "regenerate", "stop"):
        response = await post(stranger, chat, action, {"content": "hi", "request_id": "r1"})
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
        assert (await post(AsyncClient(), chat, action)).status_code == 401
    assert not await sync_to_async(Message.objects.exists)()
