"""A retried `message.send` (same request_id) never creates a second message or a second generation.

Clients resend whatever they did not see acknowledged after a reconnect, so the retry can arrive
while the first reply still streams, after it finished, from two sockets at once, or after the
reply it started was replaced by a regeneration.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async

from conversations.models import Message

STREAM = "!sim tokens=60 tps=200 ttft=0"


@sync_to_async
def rows(conversation) -> list[tuple[str, str]]:
    return list(conversation.messages.order_by("position").values_list("role", "status"))


def reply_tasks() -> list[asyncio.Task]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("parley-reply-")]


async def settled(conversation, timeout: float = 15.0) -> list[tuple[str, str]]:
    async with asyncio.timeout(timeout):
        while Message.Status.STREAMING in {status for _, status in await rows(conversation)}:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return await rows(conversation)


async def handled_by_now(socket) -> list[dict]:
    """Every frame up to the answer to a `sync` sent now: a socket handles its frames in order,
    so whatever the frames before it started has started by then."""
    await socket.send(type="sync")
    return await socket.receive_until("conversation.snapshot")


async def test_send_retried_after_a_reconnect_creates_nothing_new(connect, conversation, alice):
    _, first = await connect(alice, conversation.id)
    await first.receive()
    await first.send(type="message.send", content=STREAM, request_id="once")
    await first.close()  # the client never saw an answer
    _, second = await connect(alice, conversation.id)
    await second.receive()
    await second.send(type="message.send", content=STREAM, request_id="once")
    answer = await second.receive_until("message.completed")
    created = [f for f in answer if f["type"] == "message.created"]
    assert {f["message"]["role"] for f in created} == {"user", "assistant"}
    assert len(reply_tasks()) <= 1
    assert await settled(conversation) == [("user", "complete"), ("assistant", "complete")]


async def test_concurrent_retries_start_one_generation(connect, conversation, alice):
    sockets = [(await connect(alice, conversation.id))[1] for _ in range(3)]
    for socket in sockets:
        await socket.receive()
    await asyncio.gather(*(s.send(type="message.send", content=STREAM, request_id="same") for s in sockets))
    await sockets[0].receive_until("message.completed")
    assert await settled(conversation) == [("user", "complete"), ("assistant", "complete")]


async def test_send_retried_after_its_reply_was_regenerated_creates_nothing_new(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content=STREAM, request_id="first")
    await socket.receive_until("message.completed")
    await socket.send(type="message.regenerate", request_id="again")
    await socket.receive_until("message.completed")
    await socket.send(type="message.send", content=STREAM, request_id="first")
    answer = await handled_by_now(socket)

    assert [f["type"] for f in answer] == ["message.created", "message.created", "conversation.snapshot"]
    assert not reply_tasks()
    kept = [("user", "complete"), ("assistant", "complete"), ("assistant", "complete")]  # the regenerated one kept
    assert await settled(conversation) == kept


async def test_regenerate_retried_after_a_later_regenerate_starts_nothing_new(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content=STREAM, request_id="ask")
    await socket.receive_until("message.completed")
    created = {}
    for request_id in ("redo-1", "redo-2"):
        await socket.send(type="message.regenerate", request_id=request_id)
        created[request_id] = (await socket.receive_until("message.completed"))[-1]["message"]["id"]

    await socket.send(type="message.regenerate", request_id="redo-1")  # a late retry of the first
    answer = await handled_by_now(socket)

    assert [f["type"] for f in answer] == ["message.created", "conversation.snapshot"]
    assert answer[0]["request_id"] == "redo-1"
    assert answer[0]["message"]["id"] == created["redo-1"]  # told about the reply it created, kept as a sibling
    assert not reply_tasks()
    assert await settled(conversation) == [("user", "complete")] + [("assistant", "complete")] * 3
    ids = await sync_to_async(list)(conversation.messages.filter(role="assistant").values_list("id", flat=True))
    assert {str(i) for i in ids} >= set(created.values())
