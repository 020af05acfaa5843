"""Editing and choosing branches over the JSON API: the generation service and the frames of the socket path."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

from conversations.models import Conversation, Message

from .realtime.test_branches import ask, opened, reply_ended

FAST = "!sim tokens=5 tps=500 ttft=0"
ENDLESS = "!sim tokens=5000 tps=100 ttft=0"

pytestmark = [
    pytest.mark.db,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]


async def post(client: AsyncClient, url: str, body: dict | None = None):
    return await client.post(url, body or {}, content_type="application/json")


def edit_url(chat: Conversation, message_id: str) -> str:
    return f"/api/conversations/{chat.id}/messages/{message_id}/edit/"


def branch_url(chat: Conversation) -> str:
    return f"/api/conversations/{chat.id}/branch/"


def shape(frames: list[dict], request_id: str) -> list[tuple]:
    """What a tab can tell apart in a run of frames but their text: types, roles, whether the
    request_id is echoed, `replaces` given; deltas (as many as flushes happened) count as one."""
    described = []
    for frame in frames:
        message = frame.get("message", {})
        item = (frame["type"], message.get("role"), frame.get("request_id") == request_id, "replaces" in frame)
        if not described or item != described[-1] or item[0] != "message.delta":
            described.append(item)
    return described


def assembled(frames: list[dict]) -> str:
    """The reply's text from its deltas alone, checked to arrive in seq order."""
    reply_id, text, seq = frames[1]["message"]["id"], "", 0
    for frame in frames:
        if frame["type"] == "message.delta" and frame["message_id"] == reply_id:
            assert frame["seq"] == seq + 1
            text, seq = text + frame["delta"], frame["seq"]
    return text


async def test_an_edit_over_http_reaches_another_tab_as_one_sent_from_a_socket(connect, api, chat, alice, worker):
    sender, _ = await opened(connect, alice, chat.id)
    watcher, _ = await opened(connect, alice, chat.id)
    question = (await ask(sender))[0]["message"]
    await watcher.receive_until("message.completed")

    await sender.send(type="message.edit", message_id=question["id"], content=FAST + " socket", request_id="e1")
    from_socket = await watcher.receive_until("message.completed", timeout=20)
    await sender.receive_until("message.completed", timeout=20)
    edited = from_socket[0]["message"]["id"]  # the socket's edit is now on the branch shown
    response = await post(api, edit_url(chat, edited), {"content": FAST + " http", "request_id": "e2"})
    from_http = await watcher.receive_until("message.completed", timeout=20)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["replaces"] == edited and body["reply"]["status"] == "streaming"
    assert (body["user_message"]["content"], body["user_message"]["sibling_index"]) == (FAST + " http", 2)
    assert shape(from_http, "e2") == shape(from_socket, "e1")
    assert shape(from_http, "e2")[:2] == [
        ("message.created", "user", True, True),
        ("message.created", "assistant", True, False),
    ]
    assert [from_http[0]["message"]["id"], from_http[1]["message"]["id"]] == [
        body["user_message"]["id"],
        body["reply"]["id"],
    ]
    assert from_http[0]["replaces"] == edited
    saved = await Message.objects.aget(id=body["reply"]["id"])
    assert assembled(from_http) == from_http[-1]["message"]["content"] == saved.content


async def test_a_retried_edit_answers_200_with_what_the_first_created(api, chat, alice, worker):
    sent = (await post(api, f"/api/conversations/{chat.id}/messages/", {"content": FAST, "request_id": "r1"})).json()
    await reply_ended(sent["reply"]["id"])
    url = edit_url(chat, sent["user_message"]["id"])

    first = await post(api, url, {"content": FAST + " better", "request_id": "e1"})
    await reply_ended(first.json()["reply"]["id"])
    again = await post(api, url, {"content": FAST + " better", "request_id": "e1"})

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["reply"]["id"] == first.json()["reply"]["id"]
    assert again.json()["user_message"]["id"] == first.json()["user_message"]["id"]
    assert await Message.objects.filter(conversation=chat).acount() == 4


async def test_edit_refusals_use_the_protocols_codes_and_save_nothing(api, chat, worker):
    sent = (await post(api, f"/api/conversations/{chat.id}/messages/", {"content": ENDLESS, "request_id": "r1"})).json()
    question, reply = sent["user_message"]["id"], sent["reply"]["id"]
    cases = [
        (edit_url(chat, question), {"content": "again", "request_id": "e1"}, 409, "busy"),
        (edit_url(chat, question), {"content": "", "request_id": "e2"}, 400, "invalid_field"),
        (edit_url(chat, question), {"content": "again"}, 400, "invalid_field"),
        (edit_url(chat, question), {"content": "a\x00b", "request_id": "e3"}, 400, "invalid"),
        (edit_url(chat, "not-a-message"), {"content": "again", "request_id": "e4"}, 400, "invalid_field"),
    ]
    for url, body, status, code in cases:
        response = await post(api, url, body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    await post(api, f"/api/conversations/{chat.id}/stop/")
    await reply_ended(reply)
    for message_id, status, code in [
        (reply, 400, "invalid_field"),  # a reply is regenerated, not edited
        ("8d4a4bd0-5f8c-4a39-9f1e-8fb5e3d2a0a1", 400, "invalid_field"),  # no such message here
    ]:
        response = await post(api, edit_url(chat, message_id), {"content": "again", "request_id": "e5"})
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert await Message.objects.filter(conversation=chat).acount() == 2


async def test_an_edit_of_a_message_off_the_branch_shown_is_a_conflict(api, chat, worker):
    sent = (await post(api, f"/api/conversations/{chat.id}/messages/", {"content": FAST, "request_id": "r1"})).json()
    await reply_ended(sent["reply"]["id"])
    edited = (await post(api, edit_url(chat, sent["user_message"]["id"]), {"content": FAST, "request_id": "e1"})).json()
    await reply_ended(edited["reply"]["id"])

    response = await post(api, edit_url(chat, sent["user_message"]["id"]), {"content": "x", "request_id": "e2"})

    assert (response.status_code, response.json()["code"]) == (409, "not_on_active_path")


async def test_a_select_over_http_answers_the_new_path_and_resyncs_every_tab(connect, api, chat, alice, worker):
    first = await ask((await opened(connect, alice, chat.id))[0])
    question, old_reply = first[0]["message"]["id"], first[-1]["message"]["id"]
    regenerated = (await post(api, f"/api/conversations/{chat.id}/regenerate/", {"request_id": "g1"})).json()
    await reply_ended(regenerated["reply"]["id"])
    tab, snapshot = await opened(connect, alice, chat.id)
    assert [m["id"] for m in snapshot["messages"]] == [question, regenerated["reply"]["id"]]

    response = await post(api, branch_url(chat), {"message_id": old_reply})

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["messages"]] == [question, old_reply]
    resynced = (await tab.receive_until("conversation.snapshot"))[-1]
    assert [m["id"] for m in resynced["messages"]] == [question, old_reply]
    assert (resynced["messages"][1]["sibling_index"], resynced["messages"][1]["sibling_count"]) == (0, 2)


async def test_select_refusals_change_nothing(api, chat, alice, bob, make_async_conversation):
    leaf = await make_async_conversation(alice, chat)
    strangers = AsyncClient()
    await strangers.aforce_login(bob)
    cases = [
        (api, {"message_id": "not-an-id"}, 400, "invalid_field"),
        (api, {}, 400, "invalid_field"),
        (api, {"message_id": "8d4a4bd0-5f8c-4a39-9f1e-8fb5e3d2a0a1"}, 400, "invalid_field"),
        (strangers, {"message_id": str(leaf)}, 404, "not_found"),
    ]
    for client, body, status, code in cases:
        response = await post(client, branch_url(chat), body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert (await post(AsyncClient(), branch_url(chat), {"message_id": str(leaf)})).status_code == 401
    assert (await api.get(branch_url(chat))).status_code == 405
    assert (await Conversation.objects.aget(id=chat.id)).active_leaf_id == leaf


async def test_someone_elses_message_cannot_be_edited(chat, alice, bob, make_async_conversation):
    leaf = await make_async_conversation(alice, chat)
    stranger = AsyncClient()
    await stranger.aforce_login(bob)
    question = (await Message.objects.aget(id=leaf)).parent_id

    response = await post(stranger, edit_url(chat, str(question)), {"content": "mine now", "request_id": "e1"})

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert (
        await post(AsyncClient(), edit_url(chat, str(question)), {"content": "x", "request_id": "e1"})
    ).status_code == 401
    assert await Message.objects.filter(conversation=chat).acount() == 2


@pytest.fixture
def make_async_conversation():
    """Give a conversation one question and its answer; returns the answer's id (the active leaf)."""

    async def make(owner, chat: Conversation):
        question = await Message.objects.acreate(conversation=chat, position=0, role="user", content="Hi?")
        answer = await Message.objects.acreate(
            conversation=chat, parent=question, position=1, role="assistant", content="Hello."
        )
        await Conversation.objects.filter(id=chat.id).aupdate(active_leaf=answer)
        return answer.id

    return make
