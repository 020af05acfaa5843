"""Branches over the socket: edit, select in every tab, and what a socket shown another branch receives."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from conversations.generation import get_worker
from conversations.models import Message

pytestmark = pytest.mark.db

FAST = "!sim tokens=30 tps=600 ttft=0"
SLOW = "!sim tokens=300 tps=100 ttft=0"


async def opened(connect, user, conversation_id):
    """A socket past its snapshot, and that snapshot."""
    _, socket = await connect(user, conversation_id)
    return socket, await socket.receive()


async def ask(socket, content=FAST, request_id="r1") -> list[dict]:
    await socket.send(type="message.send", content=content, request_id=request_id)
    return await socket.receive_until("message.completed", timeout=20)


async def reply_ended(reply_id: str) -> None:
    """Wait for a reply's task to end, then for its last frames to leave the broadcaster."""
    worker = await get_worker()
    running = worker.running.get(reply_id)
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 20)
    await worker.broadcaster.flush()


def assembled(snapshot_message: dict, frames: list[dict]) -> str:
    """The resume rule: the snapshot's text, then each newer delta, in order."""
    text, seq = snapshot_message["content"], snapshot_message["seq"]
    for frame in frames:
        if frame["type"] == "message.delta" and frame["message_id"] == snapshot_message["id"] and frame["seq"] > seq:
            assert frame["seq"] == seq + 1
            text, seq = text + frame["delta"], frame["seq"]
    return text


async def test_an_edit_announces_the_sibling_then_streams_its_reply_to_every_tab(connect, conversation, alice):
    one, _ = await opened(connect, alice, conversation.id)
    two, _ = await opened(connect, alice, conversation.id)
    first = await ask(one)
    await two.receive_until("message.completed")
    question = first[0]["message"]

    await one.send(type="message.edit", message_id=question["id"], content=FAST + " again", request_id="e1")
    for socket in (one, two):
        frames = await socket.receive_until("message.completed", timeout=20)
        user, reply = frames[0]["message"], frames[1]["message"]
        assert frames[0]["request_id"] == frames[1]["request_id"] == "e1"
        assert frames[0]["replaces"] == question["id"] and "replaces" not in frames[1]
        assert user["role"] == "user" and user["content"] == FAST + " again" and user["parent_id"] is None
        assert (user["sibling_index"], user["sibling_count"], user["sibling_ids"]) == (
            1,
            2,
            [question["id"], user["id"]],
        )
        assert reply["parent_id"] == user["id"] and reply["status"] == "streaming"
        assert frames[-1]["message"]["status"] == "complete"
    await one.send(type="sync")
    snapshot = await one.receive_until("conversation.snapshot")
    assert [m["id"] for m in snapshot[-1]["messages"]] == [user["id"], reply["id"]]


async def test_a_select_is_answered_with_a_snapshot_on_every_socket(connect, conversation, alice):
    one, _ = await opened(connect, alice, conversation.id)
    two, _ = await opened(connect, alice, conversation.id)
    first = await ask(one)
    await two.receive_until("message.completed")
    await one.send(type="message.regenerate", message_id=first[-1]["message"]["id"], request_id="g1")
    await one.receive_until("message.completed", timeout=20)
    await two.receive_until("message.completed", timeout=20)

    await two.send(type="branch.select", message_id=first[-1]["message"]["id"])
    for socket in (one, two):
        snapshot = (await socket.receive_until("conversation.snapshot"))[-1]
        assert [m["id"] for m in snapshot["messages"]] == [first[0]["message"]["id"], first[-1]["message"]["id"]]
        assert (snapshot["messages"][1]["sibling_index"], snapshot["messages"][1]["sibling_count"]) == (0, 2)


async def test_a_bad_select_is_refused_and_changes_nothing(connect, conversation, alice):
    one, _ = await opened(connect, alice, conversation.id)
    await one.send(type="branch.select", message_id="not-an-id")
    assert (await one.receive())["code"] == "invalid_field"
    await one.send(type="branch.select", message_id="8d4a4bd0-5f8c-4a39-9f1e-8fb5e3d2a0a1")
    assert (await one.receive())["code"] == "invalid_field"


async def test_resume_holds_for_a_reply_streaming_on_an_edited_branch(connect, conversation, alice):
    one, _ = await opened(connect, alice, conversation.id)
    first = await ask(one)
    await one.send(type="message.edit", message_id=first[0]["message"]["id"], content=SLOW, request_id="e1")
    frames = await one.receive_until("message.delta", timeout=20)
    reply_id = frames[1]["message"]["id"]

    late, snapshot = await opened(connect, alice, conversation.id)  # joins mid-stream
    streaming = snapshot["messages"][-1]
    assert streaming["id"] == reply_id and streaming["status"] == "streaming"
    later = await late.receive_until("message.completed", timeout=30)
    assert assembled(streaming, later) == later[-1]["message"]["content"]
    assert later[-1]["message"]["content"] == (await Message.objects.aget(id=reply_id)).content


async def test_a_socket_shown_another_branch_never_gets_that_replys_frames(connect, conversation, alice):
    one, _ = await opened(connect, alice, conversation.id)
    first = await ask(one)
    await one.send(type="message.edit", message_id=first[0]["message"]["id"], content=SLOW, request_id="e1")
    reply_id = (await one.receive_until("message.delta", timeout=20))[1]["message"]["id"]
    await one.send(type="branch.select", message_id=first[0]["message"]["id"])  # back to the first branch
    await one.receive_until("conversation.snapshot")

    late, snapshot = await opened(connect, alice, conversation.id)  # reconnects while the other branch streams
    assert [m["id"] for m in snapshot["messages"]] == [first[0]["message"]["id"], first[-1]["message"]["id"]]
    await reply_ended(reply_id)
    assert (await Message.objects.aget(id=reply_id)).status == "complete"

    await late.send(type="branch.select", message_id=reply_id)  # switching shows it, finished
    frames = await late.receive_until("conversation.snapshot")
    while reply_id not in {m["id"] for m in frames[-1]["messages"]}:  # a snapshot may heal a late frame first
        frames += await late.receive_until("conversation.snapshot")
    assert not [f for f in frames if f["type"] == "message.delta"]  # none of its deltas
    shown_before = first[-1]["message"]["id"]
    for completed in (f["message"] for f in frames if f["type"] == "message.completed"):
        assert completed["parent_id"] != shown_before  # a late completion says where it belongs, not here
    assert frames[-1]["messages"][-1]["id"] == reply_id and frames[-1]["messages"][-1]["status"] == "complete"


async def test_regenerate_works_on_any_reply_of_the_branch_shown(connect, conversation, alice):
    one, _ = await opened(connect, alice, conversation.id)
    first = await ask(one, request_id="r1")
    await ask(one, request_id="r2")
    middle = first[-1]["message"]
    await one.send(type="message.regenerate", message_id=middle["id"], request_id="g1")
    frames = await one.receive_until("message.completed", timeout=20)
    assert frames[0]["replaces"] == middle["id"] and frames[0]["message"]["parent_id"] == middle["parent_id"]
    await one.send(type="sync")
    shown = (await one.receive_until("conversation.snapshot"))[-1]["messages"]
    assert [m["id"] for m in shown] == [first[0]["message"]["id"], frames[0]["message"]["id"]]
    count = await sync_to_async(conversation.messages.count)()
    assert count == 5
