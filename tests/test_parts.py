"""A message's parts and its plain-text view: the stored prefix plus the text after it."""

from __future__ import annotations

import pytest

from conversations.parts import parts_view, text_part

CALL = {"type": "tool_call", "id": "c1", "name": "clock", "arguments": "{}"}
RESULT = {"type": "tool_result", "call_id": "c1", "name": "clock", "content": "10:00", "is_error": False}


@pytest.mark.parametrize(
    ("stored", "content", "view"),
    [
        ([], "", []),
        ([], "plain old message", [text_part("plain old message")]),  # rows from before parts existed
        ([text_part("Hi")], "Hi", [text_part("Hi")]),
        ([text_part("Hi")], "Hi there", [text_part("Hi there")]),  # text after text continues it
        ([text_part("A"), CALL], "A", [text_part("A"), CALL]),
        ([text_part("A"), CALL, RESULT], "A\n\nB", [text_part("A"), CALL, RESULT, text_part("B")]),
        ([CALL, RESULT], "B", [CALL, RESULT, text_part("B")]),  # no text before the call: no separator
        ([text_part("A"), CALL], "", [text_part("A"), CALL]),  # text not caught up yet: the parts stand
    ],
)
def test_parts_view(stored, content, view):
    assert parts_view(stored, content) == view


def test_the_view_never_changes_the_stored_list():
    stored = [text_part("A"), CALL]
    parts_view(stored, "A\n\nmore")
    assert stored == [text_part("A"), CALL]
