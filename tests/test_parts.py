"""A message's parts and its plain-text view: the stored prefix plus the text after it; and a reply's
parts replayed as the turns of a later prompt."""

from __future__ import annotations

import pytest

from conversations.llm.base import ToolCall, ToolResult
from conversations.parts import (
    UNFINISHED_CALL,
    cut_off,
    parts_view,
    replayed,
    text_part,
    tool_call_part,
    tool_result_part,
)

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


CALL_A = {"type": "tool_call", "id": "c1", "name": "calculate", "arguments": '{"expression":"6*7"}'}
CALL_B = {"type": "tool_call", "id": "c2", "name": "current_time", "arguments": "{}"}
RESULT_A = {"type": "tool_result", "call_id": "c1", "name": "calculate", "content": "42", "is_error": False}
RESULT_B = {"type": "tool_result", "call_id": "c2", "name": "current_time", "content": "boom", "is_error": True}


def test_a_reply_with_two_steps_replays_as_the_turns_the_model_sent_and_was_sent():
    parts = [text_part("Let me see."), CALL_A, CALL_B, RESULT_A, RESULT_B, text_part("It is 42."), CALL_A, RESULT_A]
    parts += [text_part("Done.")]
    a, b = ToolCall("c1", "calculate", '{"expression":"6*7"}'), ToolCall("c2", "current_time", "{}")
    assert replayed(parts) == [
        {"role": "assistant", "content": "Let me see.", "tool_calls": [a, b]},
        {"role": "tool", "content": "42", "tool_result": ToolResult("c1", "calculate", "42")},
        {"role": "tool", "content": "boom", "tool_result": ToolResult("c2", "current_time", "boom", is_error=True)},
        {"role": "assistant", "content": "It is 42.", "tool_calls": [a]},
        {"role": "tool", "content": "42", "tool_result": ToolResult("c1", "calculate", "42")},
        {"role": "assistant", "content": "Done."},
    ]


def test_a_call_stopped_before_its_result_replays_with_an_error_result():
    assert replayed([CALL_A]) == [
        {"role": "assistant", "content": "", "tool_calls": [ToolCall("c1", "calculate", '{"expression":"6*7"}')]},
        {
            "role": "tool",
            "content": UNFINISHED_CALL,
            "tool_result": ToolResult("c1", "calculate", UNFINISHED_CALL, True),
        },
    ]


def test_plain_text_replays_as_one_assistant_turn():
    assert replayed([text_part("Hi")]) == [{"role": "assistant", "content": "Hi"}]


def test_calls_being_written_when_a_reply_ends_are_kept_partial_and_the_rest_unchanged():
    writing = {"type": "tool_call", "id": "c2", "name": "calculate", "arguments": '{"expr', "streaming": True}
    shown = [text_part("A"), CALL_A, RESULT_A, text_part("B"), writing]
    kept = cut_off(shown)
    assert kept[:4] == shown[:4]
    assert kept[4] == {"type": "tool_call", "id": "c2", "name": "calculate", "arguments": '{"expr', "partial": True}
    assert shown[4]["streaming"]  # the list shown is not changed


def test_a_partial_call_is_left_out_of_the_replay():
    partial = {"type": "tool_call", "id": "c2", "name": "calculate", "arguments": '{"expr', "partial": True}
    assert replayed([text_part("A"), CALL_A, RESULT_A, text_part("B"), partial]) == [
        {"role": "assistant", "content": "A", "tool_calls": [ToolCall("c1", "calculate", '{"expression":"6*7"}')]},
        {"role": "tool", "content": "42", "tool_result": ToolResult("c1", "calculate", "42")},
        {"role": "assistant", "content": "B"},
    ]
    assert replayed([text_part("Let me see."), partial]) == [{"role": "assistant", "content": "Let me see."}]


def test_a_tools_call_and_result_keep_no_nul_which_postgresql_cannot_store():
    call = tool_call_part(ToolCall("c1", "read_pdf", '{"path": "a\x00.pdf"}'))
    result = tool_result_part(ToolResult("c1", "read_pdf", "page one\x00\x00page two"))
    assert (call["arguments"], result["content"]) == ('{"path": "a.pdf"}', "page onepage two")
