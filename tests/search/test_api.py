"""GET /api/search/: the owner's hits as JSON, and a clear 4xx for every bad request."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.db

URL = "/api/search/"


def test_results_carry_the_conversation_the_message_and_a_link_to_it(alice_client, alice, make_conversation):
    chat = make_conversation(alice, title="Trip", messages=[("user", "Which <b>lighthouse</b> first?")])
    message = chat.messages.get()
    response = alice_client.get(URL, {"q": "lighthouse"})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "lighthouse"
    [result] = body["results"]
    assert result == {
        "conversation_id": str(chat.id),
        "conversation_title": "Trip",
        "archived": False,
        "message_id": str(message.id),
        "role": "user",
        "snippet": result["snippet"],
        "rank": result["rank"],
        "created_at": message.created_at.isoformat(),
        "url": f"/c/{chat.id}/?message={message.id}",
    }
    assert "&lt;b&gt;<mark>lighthouse</mark>&lt;/b&gt;" in result["snippet"]
    assert isinstance(result["rank"], float)


def test_archived_chats_are_found_and_say_so(alice_client, alice, make_conversation):
    chat = make_conversation(alice, title="Old lighthouse trip", messages=[("user", "Which lighthouse first?")])
    chat.archived = True
    chat.save(update_fields=["archived"])
    results = alice_client.get(URL, {"q": "lighthouse"}).json()["results"]
    assert len(results) == 2 and all(result["archived"] for result in results)  # the title and the message


def test_a_title_match_links_to_the_conversation(alice_client, alice, make_conversation):
    chat = make_conversation(alice, title="Lighthouse trip")
    [result] = alice_client.get(URL, {"q": "lighthouse"}).json()["results"]
    assert (result["message_id"], result["role"], result["url"]) == (None, None, f"/c/{chat.id}/")
    assert result["snippet"] == "<mark>Lighthouse</mark> trip"


def test_each_user_sees_only_their_own(alice_client, bob_client, alice, bob, make_conversation):
    make_conversation(alice, title="Alice's", messages=[("user", "secret lighthouse")])
    bobs = make_conversation(bob, title="Bob's", messages=[("user", "another lighthouse")])
    results = bob_client.get(URL, {"q": "lighthouse"}).json()["results"]
    assert [r["conversation_id"] for r in results] == [str(bobs.id)]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({}, "q", "required"),
        ({"q": "   "}, "q", "required"),
        ({"q": "x" * 201}, "q", "longer than 200"),
        ({"q": "a\x00b"}, "q", "control character"),
        ({"q": "ok", "limit": "0"}, "limit", "from 1 to 50"),
        ({"q": "ok", "limit": "51"}, "limit", "from 1 to 50"),
        ({"q": "ok", "limit": "ten"}, "limit", "from 1 to 50"),
    ],
)
def test_bad_requests_are_refused_with_the_field_named(alice_client, query, field, words):
    response = alice_client.get(URL, query)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["code"] == "invalid"
    assert words in response.json()["error"]


def test_a_query_of_nothing_searchable_finds_nothing(alice_client, alice, make_conversation):
    make_conversation(alice, messages=[("user", "some text")])
    assert alice_client.get(URL, {"q": "-text"}).json()["results"] == []
    assert alice_client.get(URL, {"q": "..."}).json()["results"] == []


def test_strangers_and_other_methods_are_refused(alice_client, db):
    assert Client().get(URL, {"q": "x"}).status_code == 401
    response = alice_client.post(URL, {"q": "x"})
    assert response.status_code == 405
    assert response["Allow"] == "GET"


def test_searching_too_fast_is_rate_limited(alice_client, settings):
    settings.PARLEY_SEARCH_RATE = "2/m"
    assert [alice_client.get(URL, {"q": "x"}).status_code for _ in range(2)] == [200, 200]
    response = alice_client.get(URL, {"q": "x"})
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"


def test_titles_and_messages_come_best_first(alice_client, alice, make_conversation):
    make_conversation(alice, title="Kites", messages=[("user", "kites kites kites"), ("assistant", "kites, once")])
    make_conversation(alice, title="Other", messages=[("user", "a long note that mentions kites a single time only")])
    results = alice_client.get(URL, {"q": "kites"}).json()["results"]
    ranks = [result["rank"] for result in results]
    assert len(results) == 4 and ranks == sorted(ranks, reverse=True)
    assert {result["message_id"] is None for result in results} == {True, False}
