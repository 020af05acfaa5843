"""Nobody reaches a conversation by its id unless they own it, and probing ids reveals nothing.

A stranger's conversation and one that does not exist must look the same from outside: the same
handshake refusal on the socket, the same 404 body over HTTP. Frames carry no conversation id, so
a socket can only ever act on the conversation it was opened (and authorised) for.
"""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import sync_to_async

from conversations.models import Conversation
from tests.wsclient import login_cookie

from .conftest import raw_handshake, ws_path

SLOW = "!sim tokens=300 tps=150 ttft=0"


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_strangers_and_missing_conversations_refuse_the_handshake_alike(daphne, conversation, bob):
    cookie = await login_cookie(bob)
    origin = ("Origin", daphne.http_url)
    attempts = {
        "stranger's": [("Cookie", f"sessionid={cookie}"), origin],
        "missing": [("Cookie", f"sessionid={cookie}"), origin],
        "anonymous": [origin],
    }
    ids = {"stranger's": conversation.id, "missing": uuid.uuid4(), "anonymous": conversation.id}
    answers = {name: await raw_handshake(daphne, ws_path(ids[name]), headers) for name, headers in attempts.items()}
    shapes = {(a.status, a.body, tuple(sorted(set(a.headers) - {"date"}))) for a in answers.values()}
    assert len(shapes) == 1, answers
    assert answers["missing"].status == 403


async def test_a_strangers_frames_never_touch_another_conversation(connect, conversation, alice, bob):
    own = await sync_to_async(Conversation.objects.create)(owner=bob, title="Bob's")
    _, socket_a = await connect(alice, conversation.id)
    _, socket_b = await connect(bob, own.id)
    await socket_a.receive(), await socket_b.receive()
    await socket_a.send(type="message.send", content=SLOW, request_id="a1")
    created = await socket_a.receive_until("message.delta")
    reply_id = next(f["message"]["id"] for f in created if f.get("message", {}).get("role") == "assistant")
    foreign = {
        "conversation_id": str(conversation.id),
        "conversation": str(conversation.id),
        "message_id": reply_id,
        "id": reply_id,
    }

    answers = []
    for frame_type in ("generation.stop", "message.regenerate", "message.edit", "branch.select", "sync"):
        await socket_b.send(type=frame_type, request_id=f"b-{frame_type}", content="mine now", **foreign)
        answers.append(await socket_b.receive())
    assert [a.get("code") or a["type"] for a in answers] == [
        "not_generating",
        "invalid_field",  # the reply's id names no message of Bob's conversation
        "invalid_field",
        "invalid_field",
        "conversation.snapshot",
    ]
    assert answers[-1]["conversation"]["id"] == str(own.id) and answers[-1]["messages"] == []

    final = (await socket_a.receive_until("message.completed", timeout=20))[-1]["message"]
    assert final["status"] == "complete"
    await socket_b.send(type="sync")
    leaked = [await socket_b.receive()]
    assert str(conversation.id) not in json.dumps(leaked) and reply_id not in json.dumps(leaked)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_strangers_id_and_a_missing_id_get_the_same_api_404(bob_client, answered_conversation, method):
    def ask(conversation_id):
        body = json.dumps({"title": "mine now"})
        return bob_client.generic(method.upper(), f"/api/conversations/{conversation_id}/", body, "application/json")

    theirs, missing = ask(answered_conversation.id), ask(uuid.uuid4())
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content
    assert theirs["Content-Type"] == missing["Content-Type"]
    answered_conversation.refresh_from_db()
    assert answered_conversation.title == "Trip to Lisbon" and answered_conversation.messages.count() == 2


def test_a_strangers_id_and_a_missing_id_get_the_same_page_404(bob_client, answered_conversation):
    theirs, missing = bob_client.get(f"/c/{answered_conversation.id}/"), bob_client.get(f"/c/{uuid.uuid4()}/")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content.replace(str(answered_conversation.id).encode(), b"<id>") == missing.content.replace(
        missing.wsgi_request.path.split("/")[2].encode(), b"<id>"
    )
