"""Edit, regenerate and select racing from two real processes: one reply runs, and every tab agrees."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation, Message
from tests.wsclient import LiveSocket, login_cookie, sockets_past_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.db, pytest.mark.timeout(180)]

FAST = "!sim tokens=40 tps=400 ttft=0"
SLOW = "!sim tokens=200 tps=100 ttft=0"


@pytest.fixture
def owner(transactional_db):
    return get_user_model().objects.create_user("erin", password="pw-erin-123")


@pytest.fixture
def chat(owner):
    return Conversation.objects.create(owner=owner, title="Races")


async def answered(socket, content=FAST, request_id="r1") -> list[dict]:
    await socket.send(type="message.send", content=content, request_id=request_id)
    return await socket.receive_until("message.completed")


async def own_answer(socket, request_id: str) -> dict:
    """The first created or error frame answering this socket's own request (others' are broadcast too)."""
    while True:
        frame = await socket.receive()
        if frame["type"] in {"message.created", "error"} and frame.get("request_id") == request_id:
            return frame


@sync_to_async
def streaming_count(chat) -> int:
    return Message.objects.filter(conversation=chat, status=Message.Status.STREAMING).count()


async def settled_views(servers, owner, chat) -> list[list[tuple[str, str]]]:
    """Once nothing streams, what a fresh tab on each process is shown: ids and statuses."""
    async with asyncio.timeout(30):
        while await streaming_count(chat):  # noqa: ASYNC110 (the database is the shared truth)
            await asyncio.sleep(0.05)
    cookie = await login_cookie(owner)
    views = []
    for server in servers:
        socket = await LiveSocket.open(server, chat.id, cookie)
        views.append([(m["id"], m["status"]) for m in (await socket.receive())["messages"]])
        await socket.close()
    return views


async def test_an_edit_and_a_regenerate_from_two_processes_start_one_reply(two_servers, owner, chat):
    on_a, on_b = await sockets_past_snapshot(two_servers, owner, chat)
    question, *_, reply = await answered(on_a, content=SLOW)  # both contenders stream for seconds
    await on_b.receive_until("message.completed")

    await asyncio.gather(
        on_a.send(type="message.edit", message_id=question["message"]["id"], content=SLOW, request_id="e1"),
        on_b.send(type="message.regenerate", message_id=reply["message"]["id"], request_id="g1"),
    )
    answers = await asyncio.gather(own_answer(on_a, "e1"), own_answer(on_b, "g1"))
    assert sorted(a.get("code", a["type"]) for a in answers) == ["busy", "message.created"]
    assert await streaming_count(chat) == 1
    views = await settled_views(two_servers, owner, chat)
    assert views[0] == views[1]
    winner = next(a["request_id"] for a in answers if a["type"] == "message.created")
    added = {"e1": 2, "g1": 1}[winner]  # an edit adds a question and its reply; a regenerate, a reply
    assert await sync_to_async(chat.messages.count)() == 2 + added


async def test_a_select_racing_an_edit_leaves_every_tab_on_the_same_branch(two_servers, owner, chat):
    on_a, on_b = await sockets_past_snapshot(two_servers, owner, chat)
    first = await answered(on_a, request_id="r1")
    await on_b.receive_until("message.completed")
    second = await answered(on_b, request_id="r2")
    await on_a.receive_until("message.completed")

    await asyncio.gather(
        on_a.send(type="message.edit", message_id=second[0]["message"]["id"], content=FAST, request_id="e1"),
        on_b.send(type="branch.select", message_id=first[-1]["message"]["id"]),
    )
    await own_answer(on_a, "e1")  # the edit was decided (started, or refused as not on the branch shown)
    await on_b.receive_until("conversation.snapshot")  # the select was applied
    views = await settled_views(two_servers, owner, chat)
    assert views[0] == views[1]
    await sync_to_async(chat.refresh_from_db)()
    assert views[0][-1][0] == str(chat.active_leaf_id)  # what they show is the conversation's active branch


async def test_a_select_on_one_process_switches_the_tab_on_the_other(two_servers, owner, chat):
    on_a, on_b = await sockets_past_snapshot(two_servers, owner, chat)
    first = await answered(on_a)
    await on_b.receive_until("message.completed")
    await on_a.send(type="message.edit", message_id=first[0]["message"]["id"], content=FAST, request_id="e1")
    await on_a.receive_until("message.completed")
    await on_b.receive_until("message.completed")

    await on_a.send(type="branch.select", message_id=first[0]["message"]["id"])
    snapshot = (await on_b.receive_until("conversation.snapshot"))[-1]
    assert [m["id"] for m in snapshot["messages"]] == [first[0]["message"]["id"], first[-1]["message"]["id"]]
