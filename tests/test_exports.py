"""Export renderers: the JSON document mirrors the API's shapes, the Markdown reads as a transcript."""

from __future__ import annotations

import json

import pytest

from conversations.exports import export_json, export_markdown, markdown_part

pytestmark = pytest.mark.db


@pytest.fixture
def unfinished_conversation(alice, make_conversation):
    """Alice's conversation in another script, with a cancelled reply and one still streaming."""
    return make_conversation(
        alice,
        title="Café ☕",
        messages=[
            ("user", "Olá"),
            ("assistant", "Half an answ", {"status": "cancelled"}),
            ("assistant", "Streaming so far", {"status": "streaming", "seq": 3}),
        ],
    )


def test_json_keeps_unicode_and_message_order(unfinished_conversation):
    text = export_json(unfinished_conversation)

    assert "Café ☕" in text  # not \u-escaped
    document = json.loads(text)
    assert [m["content"] for m in document["messages"]] == ["Olá", "Half an answ", "Streaming so far"]
    assert document["messages"][2]["seq"] == 3


def test_markdown_marks_unfinished_replies_and_skips_an_empty_system_prompt(unfinished_conversation):
    text = export_markdown(unfinished_conversation)

    assert text.startswith("# Café ☕\n")
    assert "System prompt" not in text
    assert "## Assistant (cancelled)\n\nHalf an answ" in text
    assert "## Assistant (streaming)\n\nStreaming so far" in text
    assert "> Error" not in text


def test_markdown_of_an_empty_conversation_is_just_the_header(alice, make_conversation):
    text = export_markdown(make_conversation(alice, title="Empty"))

    assert text.splitlines()[:3] == ["# Empty", "", f"- Owner: {alice.username}"]
    assert "##" not in text


def test_markdown_marks_a_call_cut_off_while_the_model_wrote_it():
    part = {"type": "tool_call", "id": "c1", "name": "calculate", "arguments": '{"expr', "partial": True}
    assert markdown_part(part)[:2] == ["**Tool call** `calculate` (cut off while written)", ""]
