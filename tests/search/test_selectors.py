"""Search finds the owner's titles and messages on every branch, ranked, with safe snippets, on
SQLite (FTS5) and PostgreSQL; the substring fallback answers the same questions."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.db import connection

from conversations.models import Message
from conversations.search import schema, selectors

pytestmark = pytest.mark.db

TAG = re.compile(r"<[^>]*>")


def engines():
    """The engine this database picks, and the fallback, which works everywhere."""
    return [None, selectors.SUBSTRING]


def message_ids(hits):
    return [hit.message_id for hit in hits if hit.message_id is not None]


def test_the_engine_is_postgresqls_or_fts5(db):
    expected = selectors.POSTGRESQL if connection.vendor == "postgresql" else selectors.FTS5
    assert selectors.engine() == expected


def test_more_relevant_messages_rank_first(alice, make_conversation):
    chat = make_conversation(
        alice,
        title="Notes",
        messages=[
            ("user", "The weather was fine, we walked by the sea and saw a lighthouse far away, then went home."),
            ("assistant", "Lighthouse keepers kept the lighthouse lamp lit: lighthouse duty."),
        ],
    )
    mentioned_once, mostly_about = chat.messages.order_by("position")
    hits = selectors.search_hits(user=alice, text="lighthouse", limit=10)
    assert message_ids(hits) == [mostly_about.id, mentioned_once.id]
    assert hits[0].rank > hits[1].rank


def test_stemming_phrases_and_exclusions(alice, make_conversation):
    chat = make_conversation(
        alice, messages=[("user", "I was running along the river"), ("assistant", "Runners like the river path")]
    )
    running, runners = chat.messages.order_by("position")
    assert message_ids(selectors.search_hits(user=alice, text="runs", limit=10)) == [running.id]
    assert message_ids(selectors.search_hits(user=alice, text='"river path"', limit=10)) == [runners.id]
    assert message_ids(selectors.search_hits(user=alice, text="river -running", limit=10)) == [runners.id]
    assert selectors.search_hits(user=alice, text="-river", limit=10) == []


@pytest.mark.parametrize("engine", engines())
def test_only_the_owners_titles_and_messages_are_found(alice, bob, make_conversation, engine):
    mine = make_conversation(alice, title="Lighthouse trip", messages=[("user", "a lighthouse in Sagres")])
    make_conversation(bob, title="Bob's lighthouse", messages=[("user", "bob's lighthouse in Porto")])
    hits = selectors.search_hits(user=alice, text="lighthouse", limit=10, engine_name=engine)
    assert {hit.conversation_id for hit in hits} == {mine.id}
    assert sorted(str(hit.message_id) for hit in hits) == sorted([str(mine.messages.get().id), "None"])
    assert not any("Porto" in hit.snippet or "Bob" in hit.conversation_title for hit in hits)


@pytest.mark.parametrize("engine", engines())
def test_messages_on_every_branch_are_found_and_say_which_message(alice, make_conversation, add_message, engine):
    chat = make_conversation(alice, messages=[("user", "Plan a trip"), ("assistant", "Go to Lisbon")])
    question, shown = chat.messages.order_by("position")
    other = add_message(chat, "assistant", "Go to the Azores instead", parent=question)
    chat.active_leaf = shown
    chat.save(update_fields=["active_leaf"])
    hits = selectors.search_hits(user=alice, text="azores", limit=10, engine_name=engine)
    assert [(hit.message_id, hit.role, hit.conversation_id) for hit in hits] == [(other.id, "assistant", chat.id)]
    assert "<mark>Azores</mark>" in hits[0].snippet


@pytest.mark.parametrize("engine", engines())
def test_snippets_escape_markup_in_messages_and_titles(alice, make_conversation, engine):
    attack = '<img src=x onerror="alert(1)"><script>alert(2)</script> lighthouse'
    make_conversation(alice, title=f"<b>lighthouse</b> {attack}", messages=[("user", attack)])
    hits = selectors.search_hits(user=alice, text="lighthouse", limit=10, engine_name=engine)
    assert len(hits) == 2
    for hit in hits:
        assert set(TAG.findall(hit.snippet)) == {"<mark>", "</mark>"}
        assert "onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;" in hit.snippet


@pytest.mark.parametrize("engine", engines())
def test_edits_and_deletes_reach_the_index(alice, make_conversation, engine):
    chat = make_conversation(alice, messages=[("user", "about kites")])
    message = chat.messages.get()
    Message.objects.filter(id=message.id).update(content="about gliders")
    assert selectors.search_hits(user=alice, text="kites", limit=10, engine_name=engine) == []
    assert message_ids(selectors.search_hits(user=alice, text="gliders", limit=10, engine_name=engine)) == [message.id]
    chat.delete()
    assert selectors.search_hits(user=alice, text="gliders", limit=10, engine_name=engine) == []


@pytest.mark.parametrize("engine", engines())
def test_a_reply_is_found_once_it_ends(alice, make_conversation, engine):
    chat = make_conversation(
        alice, messages=[("user", "tell me"), ("assistant", "about the ", {"status": "streaming"})]
    )
    reply = chat.messages.get(role="assistant")
    Message.objects.filter(id=reply.id).update(content="about the nebula so far")  # a checkpoint
    assert selectors.search_hits(user=alice, text="nebula", limit=10, engine_name=engine) == []
    Message.objects.filter(id=reply.id).update(content="about the nebula, in full", status="complete")
    hits = selectors.search_hits(user=alice, text="nebula", limit=10, engine_name=engine)
    assert message_ids(hits) == [reply.id]
    assert "in full" in hits[0].snippet


def test_code_with_tags_is_searchable(alice, make_conversation):
    chat = make_conversation(alice, messages=[("assistant", "Wrap it: <script>setup()</script> then <div>")])
    hits = selectors.search_hits(user=alice, text="script", limit=10)
    assert message_ids(hits) == [chat.messages.get().id]
    assert "&lt;<mark>script</mark>&gt;setup()" in hits[0].snippet


def test_limit_keeps_the_best(alice, make_conversation):
    make_conversation(alice, messages=[("user", f"kite number {n}") for n in range(6)])
    assert len(selectors.search_hits(user=alice, text="kite", limit=4)) == 4


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds tables; PostgreSQL alters them in place")
def test_a_migrate_puts_back_triggers_a_rebuilt_table_lost(transactional_db, alice, make_conversation):
    chat = make_conversation(alice, messages=[("user", "before the rebuild")])
    with connection.cursor() as cursor:  # what Django's table rebuild does to them
        for name in schema.sqlite_triggers(schema.SOURCES[0]):
            cursor.execute(f"DROP TRIGGER {name}")
        cursor.execute("DELETE FROM conversations_message_fts")
    Message.objects.create(conversation=chat, position=1, role="assistant", content="rebuild survivor")

    call_command("migrate", verbosity=0)

    assert len(selectors.search_hits(user=alice, text="rebuild", limit=10)) == 2
    Message.objects.create(conversation=chat, position=2, role="user", content="rebuild again")
    assert len(selectors.search_hits(user=alice, text="rebuild", limit=10)) == 3


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the fallback stands in for FTS5 on SQLite")
def test_without_the_fts5_tables_the_substring_fallback_answers(transactional_db, alice, make_conversation):
    chat = make_conversation(alice, messages=[("user", "kites over the dunes")])
    with connection.cursor() as cursor:
        schema.sqlite_uninstall(cursor)
    try:
        assert selectors.engine() == selectors.SUBSTRING
        assert message_ids(selectors.search_hits(user=alice, text="dunes", limit=10)) == [chat.messages.get().id]
    finally:
        call_command("migrate", verbosity=0)  # post_migrate installs them again, filled
    assert selectors.engine() == selectors.FTS5
    assert message_ids(selectors.search_hits(user=alice, text="dunes", limit=10)) == [chat.messages.get().id]
