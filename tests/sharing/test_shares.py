"""Share links: the JSON API, the viewer page, and the read-only viewer socket in process."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chatsite.asgi import application
from conversations import generation
from conversations.models import Conversation, ShareLink
from conversations.sharing import selectors as shares
from conversations.sharing import services as sharing
from tests.sockets import ORIGIN, Socket, session_cookie

pytestmark = pytest.mark.db

ENDLESS = "!sim tokens=100000 tps=50 ttft=0"


def shares_url(conversation) -> str:
    return f"/api/conversations/{conversation.id}/shares/"


def create(client: Client, conversation, **body):
    return client.post(shares_url(conversation), json.dumps(body), content_type="application/json")


# --- the JSON API ----------------------------------------------------------------------------


def test_create_answers_201_with_the_exact_shape_and_list_shows_it(alice_client, answered_conversation):
    response = create(alice_client, answered_conversation, mode="live", login_required=False)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url", "mode", "login_required", "show_owner", "created_at"}
    assert (body["mode"], body["login_required"], body["show_owner"]) == ("live", False, False)
    assert body["url"] == f"http://testserver/s/{body['id']}/"
    listed = alice_client.get(shares_url(answered_conversation)).json()["results"]
    assert [link["id"] for link in listed] == [body["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "frozen", "login_required": True},
        {"login_required": True},
        {"mode": "live"},
        {"mode": "live", "login_required": "yes"},
        {"mode": "live", "login_required": True, "show_owner": 1},
        {"mode": "live", "login_required": True, "expires": 3},
    ],
)
def test_bad_bodies_are_400_and_create_nothing(alice_client, answered_conversation, body):
    assert create(alice_client, answered_conversation, **body).status_code == 400
    assert not ShareLink.objects.exists()


def test_strangers_can_neither_share_list_nor_revoke(alice_client, bob_client, answered_conversation):
    assert create(bob_client, answered_conversation, mode="live", login_required=True).status_code == 404
    assert bob_client.get(shares_url(answered_conversation)).status_code == 404
    link_id = create(alice_client, answered_conversation, mode="live", login_required=True).json()["id"]
    assert bob_client.delete(f"/api/shares/{link_id}/").status_code == 404
    assert alice_client.delete(f"/api/shares/{link_id}/").status_code == 204
    assert alice_client.delete(f"/api/shares/{link_id}/").status_code == 404
    assert alice_client.get(shares_url(answered_conversation)).json()["results"] == []
    assert Client().get(shares_url(answered_conversation)).status_code == 401


# --- the viewer page ---------------------------------------------------------------------------


def test_a_public_link_opens_logged_out_without_the_owners_name(alice_client, answered_conversation):
    answered_conversation.system_prompt = "TOP SECRET PROMPT"
    answered_conversation.save()
    link_id = create(alice_client, answered_conversation, mode="live", login_required=False).json()["id"]
    page = Client().get(f"/s/{link_id}/")
    assert page.status_code == 200 and page["Referrer-Policy"] == "no-referrer"
    html = page.content.decode()
    assert "Trip to Lisbon" in html and "alice" not in html and "TOP SECRET" not in html


def test_the_owners_name_shows_only_when_chosen(alice_client, answered_conversation):
    link_id = create(alice_client, answered_conversation, mode="live", login_required=False, show_owner=True).json()[
        "id"
    ]
    assert "shared by alice" in Client().get(f"/s/{link_id}/").content.decode()


def test_a_login_link_sends_the_anonymous_to_log_in_and_a_revoked_one_is_gone(
    alice_client, bob_client, answered_conversation
):
    link_id = create(alice_client, answered_conversation, mode="snapshot", login_required=True).json()["id"]
    assert Client().get(f"/s/{link_id}/").status_code == 302
    assert bob_client.get(f"/s/{link_id}/").status_code == 200
    alice_client.delete(f"/api/shares/{link_id}/")
    assert bob_client.get(f"/s/{link_id}/").status_code == 404


# --- the viewer socket -----------------------------------------------------------------------------


async def open_viewer(link_id, user=None) -> tuple[bool, object]:
    headers = [(b"origin", ORIGIN.encode())]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/shares/{link_id}/", headers)
    accepted, detail = await communicator.connect(timeout=5)
    return accepted, Socket(communicator) if accepted else detail


async def new_link(conversation, mode: str = "live", login_required: bool = False) -> ShareLink:
    return await sync_to_async(sharing.share_create)(
        conversation=conversation, mode=mode, login_required=login_required, show_owner=False
    )


@pytest.fixture
async def chat(alice, transactional_db) -> Conversation:
    return await Conversation.objects.acreate(owner=alice, title="Shared", system_prompt="hidden prompt")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_live_viewer_watches_a_reply_and_may_only_sync(alice, chat, worker):
    link = await new_link(chat)
    accepted, viewer = await open_viewer(link.id)
    assert accepted
    snapshot = await viewer.receive()
    assert snapshot["type"] == "conversation.snapshot" and snapshot["conversation"]["system_prompt"] == ""
    await generation.start(
        user=alice, conversation_id=chat.id, content="!sim tokens=20 tps=500 ttft=0", request_id="r1"
    )
    frames = await viewer.receive_until("message.completed")
    streamed = "".join(f["delta"] for f in frames if f["type"] == "message.delta")
    assert streamed == frames[-1]["message"]["content"] and streamed
    for frame in (
        {"type": "message.send", "content": "hi", "request_id": "x"},
        {"type": "generation.stop"},
        {"type": "message.regenerate"},
    ):
        await viewer.send(**frame)
        refusal = await viewer.receive()
        assert (refusal["type"], refusal["code"]) == ("error", "read_only")
    await viewer.send(type="sync")
    assert (await viewer.receive())["type"] == "conversation.snapshot"
    assert await chat.messages.acount() == 2  # nothing the viewer sent reached the conversation
    await viewer.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_snapshot_viewer_sees_only_what_was_there(alice, chat, worker):
    started = await generation.start(
        user=alice, conversation_id=chat.id, content="!sim tokens=5 tps=500 ttft=0", request_id="r1"
    )
    await worker.running[str(started.reply.id)].task
    link = await new_link(chat, mode="snapshot")
    await generation.start(user=alice, conversation_id=chat.id, content="later", request_id="r2")
    accepted, viewer = await open_viewer(link.id)
    assert accepted
    snapshot = await viewer.receive()
    assert [m["id"] for m in snapshot["messages"]] == [str(started.user_message.id), str(started.reply.id)]
    await generation.stop(user=alice, conversation_id=chat.id)
    await viewer.send(type="sync")
    assert len((await viewer.receive())["messages"]) == 2
    await viewer.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_viewers_are_refused_without_a_login_a_link_or_room(alice, bob, chat, settings, worker):
    login_link = await new_link(chat, login_required=True)
    assert (await open_viewer(login_link.id))[0] is False
    accepted, viewer = await open_viewer(login_link.id, user=bob)
    assert accepted
    assert (await open_viewer(chat.id, user=alice))[0] is False  # a conversation id is not a link
    settings.PARLEY_SHARE_MAX_VIEWERS = 1
    assert (await open_viewer(login_link.id, user=bob))[0] is False
    await viewer.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_revoking_closes_every_viewer_with_1008(alice, chat, worker):
    link = await new_link(chat)
    viewers = [(await open_viewer(link.id))[1] for _ in range(2)]
    for viewer in viewers:
        await viewer.receive()
    owned = await sync_to_async(shares.share_get_owned)(user=alice, link_id=link.id)
    await sync_to_async(sharing.share_revoke)(link=owned)
    assert [await viewer.close_code() for viewer in viewers] == [1008, 1008]
    assert (await open_viewer(link.id))[0] is False


async def answered_at_once(viewer, request_id: str) -> dict:
    """A frame a viewer gets answered at once (read_only), to learn what was sent before it."""
    await viewer.send(type="generation.stop", request_id=request_id)
    return await viewer.receive()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_viewers_syncs_inside_the_interval_are_folded_into_one_snapshot(chat, settings, worker):
    """Before, each `sync` of a viewer re-sent the whole snapshot: the owner's socket's amplification."""
    settings.PARLEY_SYNC_INTERVAL = 3600
    accepted, viewer = await open_viewer((await new_link(chat)).id)
    assert accepted and (await viewer.receive())["type"] == "conversation.snapshot"
    for _ in range(5):
        await viewer.send(type="sync")
    assert (await viewer.receive())["type"] == "conversation.snapshot"
    answer = await answered_at_once(viewer, "p1")
    assert (answer["type"], answer["code"], answer["request_id"]) == ("error", "read_only", "p1")  # 4 folded
    await viewer.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_links_anonymous_viewers_share_one_snapshot_budget_and_a_user_keeps_their_own(
    bob, chat, settings, worker
):
    settings.PARLEY_SYNC_INTERVAL = 0
    settings.PARLEY_SNAPSHOTS_PER_MINUTE = 4
    worker.ledger.clock = worker.ledger.local.clock = lambda: 1_000_000.0  # no window ends mid-test
    link = await new_link(chat)
    anonymous = [(await open_viewer(link.id))[1] for _ in range(2)]  # each connect's snapshot: 2 of 4
    _, logged_in = await open_viewer(link.id, user=bob)
    for viewer in (*anonymous, logged_in):
        assert (await viewer.receive())["type"] == "conversation.snapshot"
    for viewer in anonymous:  # 4 of the link's 4
        await viewer.send(type="sync")
        assert (await viewer.receive())["type"] == "conversation.snapshot"
    await anonymous[0].send(type="sync", request_id="one-too-many")
    refused = await anonymous[0].receive()
    assert (refused["type"], refused["code"], refused["request_id"]) == ("error", "rate_limited", "one-too-many")
    await logged_in.send(type="sync")  # bob's budget is his own
    assert (await logged_in.receive())["type"] == "conversation.snapshot"
    _, reconnecting = await open_viewer(link.id)  # a reconnect storm is refused too, with words
    frame = await reconnecting.receive()
    assert (frame["type"], frame["code"]) == ("error", "limit_reached")
    assert await reconnecting.close_code() == 4429
    for viewer in (*anonymous, logged_in):
        await viewer.close()
