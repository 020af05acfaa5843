"""`message.continue`: an interrupted reply streams on from its saved text, in every tab, once per request."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from conversations.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

SAVED = "Half an ans"
FAST = "!sim tokens=12 tps=500 ttft=0"
ENDLESS = "!sim tokens=5000 tps=100 ttft=0"


@pytest.fixture
def interrupted(alice, make_conversation):
    """Alice's conversation whose reply was interrupted after three deltas."""

    def make(prompt: str = FAST, status: str = "interrupted"):
        return make_conversation(
            alice,
            messages=[("user", prompt), ("assistant", SAVED, {"status": status, "seq": 3, "model": "sim-1"})],
        )

    return make


def deltas_of(frames, reply_id):
    deltas = [f for f in frames if f["type"] == "message.delta" and f["message_id"] == reply_id]
    return [d["seq"] for d in deltas], "".join(d["delta"] for d in deltas)


@sync_to_async
def replies_in(conversation) -> list[Message]:
    return list(conversation.messages.filter(role="assistant"))


async def test_the_reply_streams_on_from_its_saved_text_in_every_tab(connect, alice, interrupted):
    conversation = await sync_to_async(interrupted)()
    _, sender = await connect(alice, conversation.id)
    _, other_tab = await connect(alice, conversation.id)
    snapshot = await sender.receive()
    reply_id = snapshot["messages"][-1]["id"]
    await other_tab.receive()

    await sender.send(type="message.continue", request_id="c1")

    for socket in (sender, other_tab):
        frames = await socket.receive_until("message.completed", timeout=20)
        reopened = next(f for f in frames if f["type"] == "message.created")
        assert reopened["message"]["id"] == reply_id and reopened["request_id"] == "c1"
        assert (reopened["message"]["status"], reopened["message"]["content"]) == ("streaming", SAVED)
        seqs, text = deltas_of(frames, reply_id)
        assert seqs == list(range(4, 4 + len(seqs))) and text
        final = frames[-1]["message"]
        assert (final["id"], final["status"], final["content"]) == (reply_id, "complete", SAVED + text)
    [reply] = await replies_in(conversation)
    assert (str(reply.id), reply.status, reply.content) == (reply_id, "complete", SAVED + text)


async def test_a_retried_continue_starts_nothing_more(connect, alice, interrupted):
    conversation = await sync_to_async(interrupted)()
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.continue", request_id="c1")
    done = (await socket.receive_until("message.completed", timeout=20))[-1]["message"]

    await socket.send(type="message.continue", request_id="c1")
    answer = await socket.receive()
    assert answer["type"] == "message.created" and answer["message"]["content"] == done["content"]
    await socket.send(type="sync")
    assert (await socket.receive())["type"] == "conversation.snapshot"  # nothing streamed in between
    [reply] = await replies_in(conversation)
    assert (reply.status, reply.content) == ("complete", done["content"])


@pytest.mark.parametrize("status", ["complete", "failed", "cancelled"])
async def test_only_an_interrupted_reply_can_be_continued(connect, alice, interrupted, status):
    conversation = await sync_to_async(interrupted)(status=status)
    _, socket = await connect(alice, conversation.id)
    await socket.receive()

    await socket.send(type="message.continue", request_id="c1")

    error = await socket.receive()
    assert (error["type"], error["code"], error["request_id"]) == ("error", "nothing_to_continue", "c1")
    [reply] = await replies_in(conversation)
    assert (reply.status, reply.content) == (status, SAVED)


async def test_a_tab_opened_mid_continue_sees_the_saved_text_and_what_followed(connect, alice, interrupted):
    conversation = await sync_to_async(interrupted)(prompt=ENDLESS)
    _, sender = await connect(alice, conversation.id)
    reply_id = (await sender.receive())["messages"][-1]["id"]
    await sender.send(type="message.continue", request_id="c1")
    frames = []
    while len(deltas_of(frames, reply_id)[0]) < 3:
        frames.append(await sender.receive(timeout=10))

    _, late = await connect(alice, conversation.id)
    message = (await late.receive())["messages"][-1]
    assert message["status"] == "streaming" and message["seq"] >= 6
    assert message["content"].startswith(SAVED) and len(message["content"]) > len(SAVED)
    await sender.send(type="generation.stop")
    final = (await sender.receive_until("message.completed", timeout=20))[-1]["message"]
    assert final["status"] == "cancelled" and final["content"].startswith(message["content"])


async def test_the_api_continues_too(alice_client, interrupted, worker):
    conversation = await sync_to_async(interrupted)(prompt=ENDLESS)
    url = f"/api/conversations/{conversation.id}/continue/"

    response = await sync_to_async(alice_client.post)(url, {"request_id": "c1"}, content_type="application/json")
    assert response.status_code == 202
    assert (response.json()["reply"]["status"], response.json()["reply"]["content"]) == ("streaming", SAVED)
    busy = await sync_to_async(alice_client.post)(url, {"request_id": "c2"}, content_type="application/json")
    assert (busy.status_code, busy.json()["code"]) == (409, "busy")
    again = await sync_to_async(alice_client.post)(url, {"request_id": "c1"}, content_type="application/json")
    assert again.status_code == 200

    await sync_to_async(alice_client.post)(f"/api/conversations/{conversation.id}/stop/")
