"""ChatGPT's conversations.json into Parley's tree: branches, the leaf shown, and what is left out.

The fixture (chatgpt_conversations.json) follows the documented export shape: a list of
conversations, each a `mapping` of nodes {id, message, parent, children} with a `current_node`.
Its first conversation has a placeholder root, a hidden system message and hidden custom
instructions, a regenerated reply, an edited first question, an image in a multimodal message,
a tool call with its output, hidden reasoning, and a reply split around it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from conversations import selectors
from conversations.imports import reading, services
from conversations.models import Message

FIXTURE = Path(__file__).with_name("chatgpt_conversations.json")
IMAGE_NOTE = "[An image was attached here; images are not imported.]"


@pytest.fixture
def export_bytes() -> bytes:
    return FIXTURE.read_bytes()


def read(data: bytes):
    return reading.read_file(data, max_bytes=1_000_000)


def test_the_visible_turns_are_kept_parents_first_and_oldest_first(export_bytes):
    trip, quick = read(export_bytes)

    assert [(m.key, m.role) for m in trip.messages] == [
        ("u1", "user"), ("a1", "assistant"), ("a1b", "assistant"), ("u2", "user"), ("a2", "assistant"),
        ("u1e", "user"), ("a1e", "assistant"),
    ]  # fmt: skip
    assert (trip.title, quick.title) == ("Lisbon or Porto", "Quick sum")
    assert [m.content for m in quick.messages] == ["2+2?", "4"]


def test_branches_map_to_parents_and_hidden_nodes_are_stepped_over(export_bytes):
    trip = read(export_bytes)[0]
    parents = {m.key: m.parent for m in trip.messages}

    assert parents["u1"] is None and parents["u1e"] is None  # an edited first question: two roots
    assert parents["a1"] == parents["a1b"] == "u1"  # a regenerated reply: two siblings
    assert parents["u2"] == "a1b" and parents["a2"] == "u2"  # the tool call and its output are left out
    assert trip.skipped == 5  # system, custom instructions, tool call, tool output, reasoning


def test_a_reply_split_around_hidden_reasoning_is_one_reply_and_the_leaf_follows_it(export_bytes):
    trip = read(export_bytes)[0]
    replies = {m.key: m for m in trip.messages}

    assert replies["a2"].content == "It is a tram.\n\nAnd it is yellow."
    assert trip.active_leaf == "a2"  # current_node a3text was merged into a2


def test_non_text_content_becomes_words(export_bytes):
    trip = read(export_bytes)[0]
    messages = {m.key: m for m in trip.messages}

    assert messages["u2"].content == f"{IMAGE_NOTE}\n\nWhat is this?"
    assert messages["a1e"].content == "```\nprint('Ribeira')\n```"
    assert (messages["a1"].model, messages["a1e"].model, messages["u1"].model) == ("gpt-4o", "gpt-4o-mini", "")
    assert messages["u1"].created_at.timestamp() == 1732790010.0


@pytest.mark.db
def test_an_import_saves_the_tree_and_shows_the_current_branch(alice, export_bytes):
    trip, quick = services.conversations_import(owner=alice, conversations=read(export_bytes))

    shown = selectors.message_list(conversation=trip)
    assert [m.content for m in shown] == [
        "Plan a day in Lisbon", "Start at Alfama.", f"{IMAGE_NOTE}\n\nWhat is this?",
        "It is a tram.\n\nAnd it is yellow.",
    ]  # fmt: skip
    assert [(m.sibling_index, m.sibling_count) for m in shown] == [(0, 2), (1, 2), (0, 1), (0, 1)]
    assert trip.messages.count() == 7 and quick.messages.count() == 2
    assert set(trip.messages.values_list("status", flat=True)) == {Message.Status.COMPLETE}
    assert trip.updated_at.timestamp() == 1732790200.0  # when it was last used, not when imported
    assert trip.owner == alice and trip.model_id is None


@pytest.mark.db
def test_the_whole_list_is_imported_as_one_file_or_a_zip(alice, export_bytes, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("conversations.json", export_bytes)
        writer.writestr("user.json", json.dumps({"id": "user-1"}))
    imported = services.conversations_import(owner=alice, conversations=read(archive.read_bytes()))

    assert [c.title for c in imported] == ["Lisbon or Porto", "Quick sum"]


@pytest.mark.timeout(30)  # walking the chain once per question took minutes
def test_a_long_run_of_hidden_nodes_is_walked_once_not_once_per_turn_below_it():
    """A file shaped to make a naive walk quadratic: 20,000 hidden nodes in a chain, 20,000 questions under it."""
    hidden = {f"h{i}": {"parent": f"h{i - 1}" if i else None, "message": None} for i in range(20_000)}
    question = {"author": {"role": "user"}, "content": {"content_type": "text", "parts": ["hi"]}}
    questions = {f"q{i}": {"parent": "h19999", "message": question} for i in range(20_000)}
    document = [{"title": "Deep", "mapping": {**hidden, **questions}, "current_node": "q0"}]

    (conversation,) = reading.read_file(json.dumps(document).encode(), max_bytes=10**8)

    assert len(conversation.messages) == 20_000 and all(m.parent is None for m in conversation.messages)
