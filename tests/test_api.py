"""The JSON API: every endpoint, every error path, and that a stranger's id reads as missing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conversations.models import Conversation

pytestmark = pytest.mark.db

COLLECTION = "/api/conversations/"
MESSAGE_KEYS = {"id", "role", "content", "status", "seq", "error", "model", "usage", "created_at", "parts"}
MESSAGE_KEYS |= {"parent_id", "sibling_index", "sibling_count", "sibling_ids"}  # the tree (issue 16)
CONVERSATION_KEYS = {"id", "title", "model", "system_prompt", "temperature", "created_at", "updated_at"}
CONVERSATION_KEYS |= {"pinned", "archived"}  # filing (issue 16)


def detail(conversation_id) -> str:
    return f"{COLLECTION}{conversation_id}/"


def send(client: Client, method: str, url: str, body, **extra):
    """Send `body` as JSON (or verbatim when it is already str/bytes)."""
    if method == "get":
        return client.get(url, **extra)
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(client, method)(url, data, content_type="application/json", **extra)


def aged(answered_conversation: Conversation, minutes: int) -> Conversation:
    """Make the conversation look last active `minutes` ago, so ordering does not hang on clock ticks."""
    Conversation.objects.filter(pk=answered_conversation.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )
    return answered_conversation


# --- list -------------------------------------------------------------------


def test_list_is_newest_first_and_only_mine(alice_client, alice, bob, make_conversation):
    old = aged(make_conversation(alice, title="old"), 30)
    new = aged(make_conversation(alice, title="new"), 1)
    middle = aged(make_conversation(alice, title="middle"), 10)
    make_conversation(bob, title="not mine")

    body = alice_client.get(COLLECTION).json()

    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [str(new.id), str(middle.id), str(old.id)]
    assert set(body["results"][0]) == CONVERSATION_KEYS
    assert body["next"] is None and body["previous"] is None


def test_list_is_paginated_with_links(alice_client, alice, make_conversation, settings):
    settings.PARLEY_PAGE_SIZE = 2
    ids = [str(aged(make_conversation(alice, title=f"chat {n}"), n).id) for n in range(5)]

    first = alice_client.get(COLLECTION).json()
    second = alice_client.get(first["next"]).json()
    last = alice_client.get(second["next"]).json()

    assert first["count"] == 5
    assert first["previous"] is None and first["next"] == f"{COLLECTION}?page=2"
    assert second["previous"] == f"{COLLECTION}?page=1" and second["next"] == f"{COLLECTION}?page=3"
    assert last["next"] is None
    assert [row["id"] for page in (first, second, last) for row in page["results"]] == ids


def test_page_links_keep_the_search(alice_client, alice, make_conversation, settings):
    settings.PARLEY_PAGE_SIZE = 1
    make_conversation(alice, title="alpha one")
    make_conversation(alice, title="alpha two")

    body = alice_client.get(COLLECTION, {"q": "alpha"}).json()

    assert body["next"] == f"{COLLECTION}?q=alpha&page=2"


@pytest.mark.parametrize(("page", "status"), [("0", 404), ("3", 404), ("two", 400), ("-1", 404)])
def test_bad_page_numbers_are_refused(alice_client, alice, make_conversation, page, status):
    make_conversation(alice)

    response = alice_client.get(COLLECTION, {"page": page})

    assert response.status_code == status
    assert "error" in response.json()


def test_empty_list_is_one_empty_page(alice_client):
    body = alice_client.get(COLLECTION).json()

    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_search_matches_title_case_insensitively(alice_client, alice, bob, make_conversation):
    wanted = make_conversation(alice, title="Planning the Lisbon trip")
    make_conversation(alice, title="Tax return")
    make_conversation(bob, title="lisbon too, but not mine")

    body = alice_client.get(COLLECTION, {"q": "  LISBON "}).json()

    assert [row["id"] for row in body["results"]] == [str(wanted.id)]


# --- create -----------------------------------------------------------------


def test_create_answers_201_with_id_and_title(alice_client, alice):
    response = send(alice_client, "post", COLLECTION, {"title": "  Recipes  ", "system_prompt": "Be brief."})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == CONVERSATION_KEYS
    assert body["title"] == "Recipes"
    saved = Conversation.objects.get(id=body["id"])
    assert saved.owner == alice and saved.system_prompt == "Be brief."


@pytest.mark.parametrize("body", [b"", {}, {"title": "   "}])
def test_create_without_a_title_gets_the_default(alice_client, body):
    response = send(alice_client, "post", COLLECTION, body)

    assert response.status_code == 201
    assert response.json()["title"] == "New chat"


# --- detail, rename, delete --------------------------------------------------


def test_detail_has_messages_in_protocol_v1_shape(alice_client, answered_conversation):
    body = alice_client.get(detail(answered_conversation.id)).json()

    assert body["id"] == str(answered_conversation.id) and body["title"] == "Trip to Lisbon"
    assert [set(message) for message in body["messages"]] == [MESSAGE_KEYS, MESSAGE_KEYS]
    question, answer = body["messages"]
    assert (question["role"], question["content"], question["status"]) == ("user", "Where should I eat?", "complete")
    assert question["error"] is None and question["model"] is None and question["usage"] is None
    assert question["seq"] == 0
    assert (answer["role"], answer["model"]) == ("assistant", "sim-1")


def test_detail_reports_usage_and_errors(alice_client, alice, make_conversation):
    conversation = make_conversation(
        alice,
        messages=[
            ("user", "hi"),
            ("assistant", "partial", {"status": "failed", "error": "The model is down.", "seq": 7,
                                     "prompt_tokens": 3, "completion_tokens": 2}),
        ],
    )  # fmt: skip

    answer = alice_client.get(detail(conversation.id)).json()["messages"][1]

    assert answer["status"] == "failed" and answer["error"] == "The model is down." and answer["seq"] == 7
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "cost_usd": None, "estimated": False}


def test_patch_renames(alice_client, answered_conversation):
    before = answered_conversation.updated_at

    response = send(alice_client, "patch", detail(answered_conversation.id), {"title": "  Lisbon, again "})

    assert response.status_code == 200
    assert response.json()["title"] == "Lisbon, again"
    answered_conversation.refresh_from_db()
    assert answered_conversation.title == "Lisbon, again"
    assert answered_conversation.updated_at > before


def test_patch_changes_the_system_prompt(alice_client, answered_conversation):
    response = send(alice_client, "patch", detail(answered_conversation.id), {"system_prompt": "Answer in Portuguese."})

    assert response.status_code == 200
    answered_conversation.refresh_from_db()
    assert answered_conversation.system_prompt == "Answer in Portuguese."


def test_patch_with_nothing_to_change_is_400(alice_client, answered_conversation):
    response = send(alice_client, "patch", detail(answered_conversation.id), {})

    assert response.status_code == 400


def test_delete_answers_204_and_removes_messages(alice_client, answered_conversation):
    response = alice_client.delete(detail(answered_conversation.id))

    assert response.status_code == 204
    assert not Conversation.objects.filter(id=answered_conversation.id).exists()
    assert alice_client.get(detail(answered_conversation.id)).status_code == 404


# --- error paths --------------------------------------------------------------


BAD_BODIES = [
    pytest.param("{not json", "not valid JSON", id="bad-json"),
    pytest.param(b"\xff\xfe", "not valid JSON", id="not-utf8"),
    pytest.param('["a list"]', "JSON object", id="array"),
    pytest.param('"a string"', "JSON object", id="string"),
    pytest.param({"title": 42}, "title must be a string", id="wrong-type"),
    pytest.param({"title": None}, "title must be a string", id="null"),
    pytest.param({"owner": 1}, "Unknown field(s): owner", id="unknown-field"),
    pytest.param({"title": "x" * 201}, "longer than 200", id="too-long"),
    pytest.param({"system_prompt": "x" * 20_001}, "longer than 20000", id="prompt-too-long"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_create_refuses_bad_bodies_with_400(alice_client, body, message):
    response = send(alice_client, "post", COLLECTION, body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_patch_refuses_bad_bodies_with_400(alice_client, answered_conversation, body, message):
    response = send(alice_client, "patch", detail(answered_conversation.id), body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    answered_conversation.refresh_from_db()
    assert answered_conversation.title == "Trip to Lisbon"


def test_wrong_type_names_the_field(alice_client):
    response = send(alice_client, "post", COLLECTION, {"title": ["x"]})

    assert response.json()["field"] == "title"


@pytest.mark.parametrize("method", ["post", "patch"])
def test_oversized_body_is_413(alice_client, answered_conversation, settings, method):
    settings.PARLEY_API_MAX_BODY = 1000
    url = COLLECTION if method == "post" else detail(answered_conversation.id)

    response = send(alice_client, method, url, {"system_prompt": "x" * 1000})

    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["error"]


def test_body_larger_than_its_content_length_is_413(alice_client, settings):
    settings.PARLEY_API_MAX_BODY = 100
    body = json.dumps({"title": "x" * 150}).encode()

    response = alice_client.generic("POST", COLLECTION, body, content_type="application/json", CONTENT_LENGTH="10")

    assert response.status_code in {400, 413}


@pytest.mark.parametrize(
    ("method", "path"), [("get", "list"), ("post", "list"), ("get", "one"), ("patch", "one"), ("delete", "one")]
)
def test_anonymous_gets_401_json(client, answered_conversation, method, path):
    url = COLLECTION if path == "list" else detail(answered_conversation.id)

    response = send(client, method, url, {"title": "x"})

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "log in" in response.json()["error"]


@pytest.mark.parametrize(("method", "path"), [("post", "list"), ("patch", "one"), ("delete", "one")])
def test_unsafe_methods_without_csrf_token_get_403_json(alice, answered_conversation, method, path):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    url = COLLECTION if path == "list" else detail(answered_conversation.id)

    response = send(client, method, url, {"title": "x"})

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"].startswith("CSRF check failed")
    answered_conversation.refresh_from_db()
    assert answered_conversation.title == "Trip to Lisbon"


def test_unsafe_method_with_csrf_token_passes(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/accounts/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value

    response = send(client, "post", COLLECTION, {"title": "ok"}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 201


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_other_users_conversation_is_404(bob_client, answered_conversation, method):
    response = send(bob_client, method, detail(answered_conversation.id), {"title": "mine now"})

    assert response.status_code == 404
    assert response.json() == {"error": "Conversation not found."}
    answered_conversation.refresh_from_db()
    assert answered_conversation.title == "Trip to Lisbon"


def test_other_user_gets_404_for_each_of_my_conversations(bob_client, alice, make_conversation):
    conversations = [make_conversation(alice, title=f"secret {n}") for n in range(3)]

    for conversation in conversations:
        for method in ("get", "patch", "delete"):
            assert send(bob_client, method, detail(conversation.id), {"title": "x"}).status_code == 404
    assert Conversation.objects.filter(owner=alice).count() == 3
    assert bob_client.get(COLLECTION).json()["count"] == 0


@pytest.mark.parametrize("conversation_id", ["1b7c6e2a-5d3f-4c8e-9a10-2f4b6d8e0c31", "not-a-uuid", "123", "%20"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_missing_or_malformed_id_is_404(alice_client, conversation_id, method):
    response = send(alice_client, method, detail(conversation_id), {"title": "x"})

    assert response.status_code == 404
    assert response.json() == {"error": "Conversation not found."}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("put", "list", "GET, POST"),
        ("delete", "list", "GET, POST"),
        ("patch", "list", "GET, POST"),
        ("post", "one", "GET, PATCH, DELETE"),
        ("put", "one", "GET, PATCH, DELETE"),
    ],
)
def test_wrong_method_is_405_with_allow(alice_client, answered_conversation, method, path, allow):
    url = COLLECTION if path == "list" else detail(answered_conversation.id)

    response = send(alice_client, method, url, {})

    assert response.status_code == 405
    assert response["Allow"] == allow
    assert "not allowed" in response.json()["error"]
