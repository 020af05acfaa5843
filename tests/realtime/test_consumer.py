"""The consumer over the real ASGI app, channel layer and built-in simulator."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator

from chatsite.asgi import application
from conversations import protocol
from conversations.models import Conversation, Message
from conversations.realtime import local
from conversations.realtime.broadcast import conversation_group, frame_message
from tests.sockets import ORIGIN, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)  # worker threads must see the test's rows

FAST = "!sim tokens=30 tps=600 ttft=0"
SLOW = "!sim tokens=400 tps=100 ttft=0"


async def stream_reply(socket, content=FAST, request_id="r1") -> tuple[list[dict], dict]:
    """Send a message; return the frames up to completion and the completed message."""
    await socket.send(type="message.send", content=content, request_id=request_id)
    frames = await socket.receive_until("message.completed", timeout=20)
    return frames, frames[-1]["message"]


def joined_deltas(frames, message_id):
    deltas = [f for f in frames if f["type"] == "message.delta" and f["message_id"] == message_id]
    assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
    return "".join(d["delta"] for d in deltas)


@sync_to_async
def saved(message_id) -> Message:
    return Message.objects.get(id=message_id)


# --- who may connect -----------------------------------------------------------


async def test_anonymous_user_is_refused_before_accept(connect, conversation):
    accepted, _ = await connect(None, conversation.id)
    assert not accepted


async def accepted_with_cookie(conversation, cookie: str) -> bool:
    headers = [(b"origin", ORIGIN.encode()), (b"cookie", cookie.encode())]
    communicator = WebsocketCommunicator(application, f"/ws/conversations/{conversation.id}/", headers)
    accepted, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return accepted


@pytest.mark.parametrize("cookie", ["sessionid=not-a-session", "sessionid=", "other=1; sessionid"])
async def test_a_bogus_session_cookie_is_refused_before_accept(conversation, alice, cookie):
    valid = await sync_to_async(session_cookie)(alice)
    assert await accepted_with_cookie(conversation, f"sessionid={valid}")
    assert not await accepted_with_cookie(conversation, cookie)


async def test_a_session_from_before_a_password_change_is_refused(conversation, alice):
    cookie = f"sessionid={await sync_to_async(session_cookie)(alice)}"

    @sync_to_async
    def change_password():
        alice.set_password("a-brand-new-one-42")
        alice.save()

    assert await accepted_with_cookie(conversation, cookie)
    await change_password()
    assert not await accepted_with_cookie(conversation, cookie)


async def test_other_users_conversation_is_refused_like_a_missing_one(connect, conversation, bob):
    refused_other, code_other = await connect(bob, conversation.id)
    refused_missing, code_missing = await connect(bob, "8d5e0c55-1a2b-4c3d-9e8f-0123456789ab")
    assert (refused_other, refused_missing) == (False, False)
    assert code_other == code_missing


async def test_a_broadcast_racing_a_refusal_is_dropped_not_handled(connect, conversation, bob, monkeypatch):
    """A socket subscribes before it reads (so nothing published after the read is missed); a
    stranger's socket is refused after that read, and what reached it meanwhile must go nowhere."""
    from asgiref.sync import async_to_sync

    from conversations import selectors
    from conversations.realtime.broadcast import conversation_group

    read = selectors.conversation_with_messages

    def read_while_a_delta_arrives(**kwargs):
        frame = {"type": "chat.delta", "id": "x", "seq": 1, "frame": "{}"}
        async_to_sync(get_channel_layer().group_send)(conversation_group(conversation.id), frame)
        time.sleep(0.2)  # this runs in a worker thread: the loop delivers the delta meanwhile
        return read(**kwargs)

    monkeypatch.setattr(selectors, "conversation_with_messages", read_while_a_delta_arrives)
    accepted, _ = await connect(bob, conversation.id)
    assert not accepted


async def test_foreign_origin_is_refused(connect, conversation, alice):
    accepted, _ = await connect(alice, conversation.id, origin="http://evil.example")
    assert not accepted


# --- the happy path ------------------------------------------------------------------


async def test_snapshot_comes_first(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    snapshot = await socket.receive()
    assert snapshot["type"] == "conversation.snapshot"
    assert snapshot["conversation"]["id"] == str(conversation.id)
    assert snapshot["messages"] == []


async def test_send_streams_numbered_deltas_and_saves_the_reply(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    frames, final = await stream_reply(socket)
    user_created, reply_created = frames[0], frames[1]
    assert user_created["type"] == reply_created["type"] == "message.created"
    assert user_created["message"]["role"] == "user" and user_created["request_id"] == "r1"
    assert reply_created["message"]["status"] == "streaming" and reply_created["request_id"] == "r1"
    assert final["status"] == "complete" and final["content"]
    assert joined_deltas(frames, final["id"]) == final["content"]
    row = await saved(final["id"])
    assert (row.content, row.status, row.seq) == (final["content"], "complete", final["seq"])
    assert "simulator" in row.model


async def test_two_sockets_receive_every_delta_in_order(connect, conversation, alice):
    _, first = await connect(alice, conversation.id)
    _, second = await connect(alice, conversation.id)
    await first.receive(), await second.receive()
    frames_first, final = await stream_reply(first)
    frames_second = await second.receive_until("message.completed")
    assert joined_deltas(frames_first, final["id"]) == joined_deltas(frames_second, final["id"]) == final["content"]


async def test_reconnect_mid_stream_resumes_without_gap_or_duplicate(connect, conversation, alice):
    _, first = await connect(alice, conversation.id)
    await first.receive()
    await first.send(type="message.send", content=SLOW, request_id="r1")
    frames = [await first.receive() for _ in range(8)]
    reply_id = next(
        f["message"]["id"] for f in frames if f["type"] == "message.created" and f["message"]["role"] == "assistant"
    )
    _, late = await connect(alice, conversation.id)
    snapshot = await late.receive()
    streaming = next(m for m in snapshot["messages"] if m["id"] == reply_id)
    assert streaming["status"] == "streaming" and streaming["seq"] > 0
    later = await late.receive_until("message.completed", timeout=20)
    text = streaming["content"] + "".join(
        f["delta"] for f in later if f["type"] == "message.delta" and f["seq"] > streaming["seq"]
    )
    seqs = [f["seq"] for f in later if f["type"] == "message.delta"]
    assert seqs == list(range(streaming["seq"] + 1, streaming["seq"] + 1 + len(seqs)))
    assert text == later[-1]["message"]["content"]


async def test_closing_the_tab_does_not_stop_the_reply(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content=FAST, request_id="r1")
    created = await socket.receive_until("message.created")
    await socket.close()
    for _ in range(100):
        reply = await sync_to_async(lambda: conversation.messages.filter(role="assistant").first())()
        if reply.status != "streaming":
            break
        await asyncio.sleep(0.1)
    assert reply.status == "complete" and len(reply.content) > 20
    assert created[-1]["message"]["role"] == "user"


# --- stop, regenerate, busy, limits -------------------------------------------------------


async def test_stop_keeps_the_partial_text(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content=SLOW, request_id="r1")
    await socket.receive_until("message.delta")
    await socket.send(type="generation.stop")
    final = (await socket.receive_until("message.completed"))[-1]["message"]
    assert final["status"] == "cancelled"
    row = await saved(final["id"])
    assert row.status == "cancelled" and row.content == final["content"] and row.content


async def test_stop_with_nothing_running_is_an_error(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="generation.stop")
    assert (await socket.receive())["code"] == "not_generating"


async def test_second_send_while_streaming_is_busy(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content=SLOW, request_id="r1")
    await socket.receive_until("message.delta")
    await socket.send(type="message.send", content="again", request_id="r2")
    error = (await socket.receive_until("error"))[-1]
    assert error["code"] == "busy" and error["request_id"] == "r2"
    await socket.send(type="generation.stop")


async def test_per_user_cap_is_enforced(connect, conversation, alice, settings):
    settings.PARLEY_MAX_GENERATIONS_PER_USER = 1
    other = await sync_to_async(Conversation.objects.create)(owner=alice, title="Other")
    _, first = await connect(alice, conversation.id)
    _, second = await connect(alice, other.id)
    await first.receive(), await second.receive()
    await first.send(type="message.send", content=SLOW, request_id="r1")
    await first.receive_until("message.delta")
    await second.send(type="message.send", content="hello", request_id="r2")
    assert (await second.receive())["code"] == "limit_reached"
    await first.send(type="generation.stop")


async def test_regenerate_adds_a_sibling_in_place_of_the_last_reply(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    _, first = await stream_reply(socket)
    await socket.send(type="message.regenerate", request_id="r2")
    frames = await socket.receive_until("message.completed")
    created = frames[0]
    assert created["type"] == "message.created" and created["replaces"] == first["id"]
    assert frames[-1]["message"]["status"] == "complete"
    assert created["message"]["parent_id"] == first["parent_id"]
    assert (created["message"]["sibling_index"], created["message"]["sibling_count"]) == (1, 2)
    ids = await sync_to_async(lambda: list(conversation.messages.values_list("id", flat=True)))()
    assert len(ids) == 3 and first["id"] in {str(i) for i in ids}  # the earlier reply is kept


async def test_regenerate_without_a_reply_is_an_error(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.regenerate")
    assert (await socket.receive())["code"] == "nothing_to_regenerate"


async def test_retried_send_creates_nothing_new(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await stream_reply(socket, request_id="same")
    await socket.send(type="message.send", content=FAST, request_id="same")
    again = [await socket.receive(), await socket.receive()]
    assert [f["type"] for f in again] == ["message.created", "message.created"]
    assert await sync_to_async(conversation.messages.count)() == 2


# --- bad frames -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{oops", "invalid_json"),
        ('{"type": "nope"}', "unknown_type"),
        ('{"type": "message.send", "content": 3, "request_id": "x"}', "invalid_field"),
        ('{"type": "message.send", "content": "' + "a" * 70_000 + '", "request_id": "x"}', "frame_too_large"),
    ],
)
async def test_bad_frame_gets_an_error_and_the_socket_keeps_working(connect, conversation, alice, text, code):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send_text(text)
    assert (await socket.receive())["code"] == code
    await socket.send(type="sync")
    assert (await socket.receive())["type"] == "conversation.snapshot"


async def test_binary_frame_is_refused(connect, conversation, alice):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await socket.receive())["code"] == "invalid_json"


async def test_flood_is_rate_limited(connect, conversation, alice, settings):
    settings.PARLEY_WS_RATE = 5.0
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    for _ in range(20):  # syncs would be folded (fairness.SnapshotPacer): every stop is answered
        await socket.send(type="generation.stop")
    codes = [(await socket.receive()).get("code") for _ in range(20)]
    assert codes.count("rate_limited") >= 10


async def test_ownership_is_rechecked_on_every_action(connect, conversation, alice, bob):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    conversation.owner = bob
    await sync_to_async(conversation.save)()
    await socket.send(type="message.send", content="hi", request_id="r1")
    assert (await socket.receive())["code"] == "not_found"
    await socket.send(type="sync")
    assert (await socket.receive())["code"] == "not_found"
    assert await sync_to_async(conversation.messages.count)() == 0


# --- changes made through the API -------------------------------------------------


async def test_rename_and_delete_through_the_api_reach_open_sockets(connect, conversation, alice):
    from django.test import Client

    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    client = Client()
    await sync_to_async(client.force_login)(alice)
    url = f"/api/conversations/{conversation.id}/"
    await sync_to_async(client.patch)(url, '{"title": "Renamed"}', content_type="application/json")
    updated = await socket.receive()
    assert updated["type"] == "conversation.updated" and updated["conversation"]["title"] == "Renamed"
    await sync_to_async(client.delete)(url)
    deleted = await socket.receive()
    assert deleted == {"type": "conversation.deleted", "conversation_id": str(conversation.id)}


# --- the zero-setup default --------------------------------------------------------


async def test_the_default_in_memory_layer_streams_and_stops(connect, conversation, alice, settings):
    """What `scripts/serve` runs: no Redis, the in-memory layer, the in-process simulator."""
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    frames, final = await stream_reply(socket)
    assert final["status"] == "complete" and joined_deltas(frames, final["id"]) == final["content"]
    await socket.send(type="message.send", content=SLOW, request_id="r2")
    await socket.receive_until("message.delta")
    await socket.send(type="generation.stop")
    assert (await socket.receive_until("message.completed"))[-1]["message"]["status"] == "cancelled"


# --- a reply's first text, handed over in this process -------------------------------------


@pytest.fixture
def streaming_conversation(alice, make_conversation) -> Conversation:
    """Alice's conversation whose reply is streaming and has published nothing yet."""
    return make_conversation(alice, messages=[("user", "Hi"), ("assistant", "", {"status": "streaming", "seq": 0})])


def delta(reply_id: str, seq: int, text: str) -> dict:
    return {"type": "chat.delta", "id": reply_id, "seq": seq, "frame": protocol.delta_frame(reply_id, seq, text)}


async def test_a_first_text_handed_over_in_process_is_sent_once_and_its_copy_dropped(
    connect, streaming_conversation, alice
):
    _, socket = await connect(alice, streaming_conversation.id)
    reply_id = (await socket.receive())["messages"][-1]["id"]
    group = conversation_group(streaming_conversation.id)
    await local.sockets.hand_over(group, delta(reply_id, 1, "Hel"))
    assert (await socket.receive())["delta"] == "Hel"
    layer = get_channel_layer()
    await layer.group_send(group, delta(reply_id, 1, "Hel"))  # the copy through the layer, later
    await layer.group_send(group, delta(reply_id, 2, "lo"))
    after = await socket.receive()  # the copy of seq 1 was dropped, and no snapshot was sent for it
    assert (after["type"], after["seq"]) == ("message.delta", 2)


async def test_a_first_text_for_a_reply_a_socket_does_not_follow_is_left_to_the_layer(
    connect, streaming_conversation, alice
):
    """A socket that has not been told of the reply yet must not take its text (it would need a
    snapshot); the copy through the layer reaches it after the frame that opens the reply."""
    _, socket = await connect(alice, streaming_conversation.id)
    await socket.receive()
    group = conversation_group(streaming_conversation.id)
    await local.sockets.hand_over(group, delta("not-followed", 1, "Hel"))
    await get_channel_layer().group_send(group, frame_message('{"type":"marker"}'))
    assert (await socket.receive()) == {"type": "marker"}
