"""Pinning and archiving conversations: the fields, the JSON API, the list's order and filter, the admin."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import services
from conversations.models import Conversation

pytestmark = pytest.mark.db

COLLECTION = "/api/conversations/"
ADMIN_LIST = "/admin/conversations/conversation/"


def detail(conversation) -> str:
    return f"{COLLECTION}{conversation.id}/"


def patch(client, conversation, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.patch(detail(conversation), data, content_type="application/json")


def aged(conversation: Conversation, minutes: int) -> Conversation:
    """Last active `minutes` ago, so the order never hangs on clock ticks."""
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))
    conversation.refresh_from_db()
    return conversation


def listed(client, **query) -> list[str]:
    response = client.get(COLLECTION, query)
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


@pytest.fixture
def three_chats(alice, make_conversation) -> dict[str, Conversation]:
    """By title; newest first: recent, middle, old."""
    ages = {"recent": 1, "middle": 10, "old": 30}
    return {title: aged(make_conversation(alice, title=title), minutes) for title, minutes in ages.items()}


def test_a_new_conversation_is_neither_pinned_nor_archived(alice_client, alice, make_conversation):
    body = alice_client.get(detail(make_conversation(alice))).json()

    assert body["pinned"] is False and body["archived"] is False


def test_pinning_puts_a_chat_on_top_without_making_it_recent(alice_client, three_chats):

    response = patch(alice_client, three_chats["old"], {"pinned": True})

    assert response.status_code == 200
    assert response.json()["pinned"] is True
    assert listed(alice_client) == ["old", "recent", "middle"]
    saved = Conversation.objects.get(id=three_chats["old"].id)
    assert saved.pinned and saved.updated_at == three_chats["old"].updated_at  # filing is not activity


def test_pinned_chats_are_ordered_by_recency_among_themselves(alice_client, three_chats):
    patch(alice_client, three_chats["old"], {"pinned": True})
    patch(alice_client, three_chats["middle"], {"pinned": True})

    assert listed(alice_client) == ["middle", "old", "recent"]

    patch(alice_client, three_chats["middle"], {"pinned": False})

    assert listed(alice_client) == ["old", "recent", "middle"]


def test_archiving_moves_a_chat_to_the_archived_list_and_back(alice_client, three_chats):

    assert patch(alice_client, three_chats["middle"], {"archived": True}).json()["archived"] is True

    assert listed(alice_client) == ["recent", "old"]
    assert listed(alice_client, archived="1") == ["middle"]
    assert listed(alice_client, archived="true") == ["middle"]
    assert listed(alice_client, archived="0") == ["recent", "old"]
    assert alice_client.get(COLLECTION).json()["count"] == 2

    patch(alice_client, three_chats["middle"], {"archived": False})

    assert listed(alice_client) == ["recent", "middle", "old"]
    assert listed(alice_client, archived="1") == []


def test_an_archived_chat_stays_readable_and_keeps_its_messages(alice_client, answered_conversation):
    patch(alice_client, answered_conversation, {"archived": True})

    body = alice_client.get(detail(answered_conversation)).json()

    assert body["archived"] is True
    assert [m["content"] for m in body["messages"]] == ["Where should I eat?", "Try a pastelaria."]


def test_archived_chats_can_be_searched_by_title(alice_client, alice, make_conversation):
    for title in ("Lisbon trip", "Lisbon flat", "Porto"):
        make_conversation(alice, title=title, archived=True)
    make_conversation(alice, title="Lisbon today")

    assert sorted(listed(alice_client, archived="1", q="lisbon")) == ["Lisbon flat", "Lisbon trip"]
    assert listed(alice_client, q="lisbon") == ["Lisbon today"]


def test_an_archived_chat_keeps_its_pin_for_when_it_comes_back(alice_client, three_chats):
    patch(alice_client, three_chats["old"], {"pinned": True})
    patch(alice_client, three_chats["old"], {"archived": True})

    assert listed(alice_client) == ["recent", "middle"]

    patch(alice_client, three_chats["old"], {"archived": False})

    assert listed(alice_client) == ["old", "recent", "middle"]


def test_pin_and_archive_combine_with_other_fields(alice_client, answered_conversation):
    body = patch(alice_client, answered_conversation, {"title": "Filed", "pinned": True}).json()

    assert body["title"] == "Filed" and body["pinned"] is True
    saved = Conversation.objects.get(id=answered_conversation.id)
    assert saved.updated_at > answered_conversation.updated_at  # a rename is activity


def test_create_may_pin_or_archive_at_once(alice_client):
    response = alice_client.post(
        COLLECTION, json.dumps({"title": "Kept", "pinned": True, "archived": True}), content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json()["pinned"] is True and response.json()["archived"] is True
    assert listed(alice_client, archived="1") == ["Kept"]


@pytest.mark.parametrize("field", ["pinned", "archived"])
@pytest.mark.parametrize("value", [1, 0, "true", None, [], {}])
def test_pin_and_archive_take_only_true_or_false(alice_client, answered_conversation, field, value):
    response = patch(alice_client, answered_conversation, {field: value, "title": "Not saved"})

    assert response.status_code == 400
    assert response.json() == {"error": f"{field} must be true or false.", "field": field}
    saved = Conversation.objects.get(id=answered_conversation.id)
    assert (saved.title, saved.pinned, saved.archived) == ("Trip to Lisbon", False, False)


@pytest.mark.parametrize("value", ["yes", "2", "", "all"])
def test_an_unknown_archived_filter_is_400(alice_client, three_chats, value):
    response = alice_client.get(COLLECTION, {"archived": value})

    assert response.status_code == 400
    assert response.json()["field"] == "archived"
    assert "archived must be 1" in response.json()["error"]


def test_nothing_to_change_names_the_new_fields(alice_client, answered_conversation):
    response = patch(alice_client, answered_conversation, {})

    assert response.status_code == 400
    assert "pinned or archived" in response.json()["error"]


@pytest.mark.parametrize("body", [{"pinned": True}, {"archived": True}])
def test_someone_elses_conversation_is_404_and_unchanged(bob_client, answered_conversation, body):
    response = patch(bob_client, answered_conversation, body)

    assert response.status_code == 404
    saved = Conversation.objects.get(id=answered_conversation.id)
    assert (saved.pinned, saved.archived) == (False, False)


def test_the_archived_list_holds_only_my_chats(alice_client, bob_client, alice, bob, make_conversation):
    make_conversation(alice, title="alice's archive", archived=True)
    make_conversation(bob, title="bob's archive", archived=True)

    assert listed(alice_client, archived="1") == ["alice's archive"]
    assert listed(bob_client, archived="1") == ["bob's archive"]


def test_the_service_changes_only_the_filing(alice, make_conversation):
    conversation = aged(make_conversation(alice, title="As it was", system_prompt="Be brief."), 5)

    services.conversation_update(conversation=conversation, archived=True)

    saved = Conversation.objects.get(id=conversation.id)
    assert (saved.archived, saved.pinned, saved.title, saved.system_prompt) == (True, False, "As it was", "Be brief.")
    assert saved.updated_at == conversation.updated_at


@pytest.mark.parametrize(
    ("query", "titles"), [({"archived__exact": "1"}, ["Old news"]), ({"pinned__exact": "1"}, ["Pinned"])]
)
def test_the_admin_lists_and_filters_by_pin_and_archive(admin_client, alice, make_conversation, query, titles):
    make_conversation(alice, title="Old news", archived=True)
    make_conversation(alice, title="Pinned", pinned=True)
    make_conversation(alice, title="Plain")

    everything = admin_client.get(ADMIN_LIST)
    filtered = admin_client.get(ADMIN_LIST, query)

    assert everything.status_code == 200 and everything.context["cl"].result_count == 3
    assert "column-archived" in everything.text and "column-pinned" in everything.text
    assert sorted(c.title for c in filtered.context["cl"].result_list) == titles
