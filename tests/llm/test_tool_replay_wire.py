"""An earlier reply's tool calls and results, replayed into a later prompt, in each wire format's
recorded request shape: OpenAI assistant `tool_calls` and `tool` turns, Anthropic `tool_use` and
`tool_result` blocks, Ollama `tool_calls` and `tool` turns naming the tool."""

from __future__ import annotations

from conversations.llm.base import Options
from conversations.llm.formats.anthropic_messages import AnthropicMessages
from conversations.llm.formats.chat_completions import ChatCompletions
from conversations.llm.formats.ollama_ndjson import OllamaNDJSON
from conversations.parts import UNFINISHED_CALL, replayed, text_part

EARLIER_REPLY = [
    text_part("Let me work it out."),
    {"type": "tool_call", "id": "call_1", "name": "calculate", "arguments": '{"expression":"6*7"}'},
    {"type": "tool_result", "call_id": "call_1", "name": "calculate", "content": "42", "is_error": False},
    text_part("It is 42."),
    {"type": "tool_call", "id": "call_2", "name": "current_time", "arguments": '{"timezone":"Mars/Base"}'},
]  # the second call was stopped before its result
HISTORY = [
    {"role": "user", "content": "What is 6*7?"},
    *replayed(EARLIER_REPLY),
    {"role": "user", "content": "And that plus one?"},
]


def body(wire) -> dict:
    return wire.build_request("http://upstream", "", HISTORY, Options("m")).body


def test_chat_completions_replays_assistant_tool_calls_and_tool_turns():
    assert body(ChatCompletions())["messages"] == [
        {"role": "user", "content": "What is 6*7?"},
        {
            "role": "assistant",
            "content": "Let me work it out.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculate", "arguments": '{"expression":"6*7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {
            "role": "assistant",
            "content": "It is 42.",
            "tool_calls": [
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "current_time", "arguments": '{"timezone":"Mars/Base"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": UNFINISHED_CALL},
        {"role": "user", "content": "And that plus one?"},
    ]


def test_anthropic_replays_tool_use_and_tool_result_blocks():
    assert body(AnthropicMessages())["messages"] == [
        {"role": "user", "content": "What is 6*7?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me work it out."},
                {"type": "tool_use", "id": "call_1", "name": "calculate", "input": {"expression": "6*7"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "42"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "It is 42."},
                {"type": "tool_use", "id": "call_2", "name": "current_time", "input": {"timezone": "Mars/Base"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_2", "content": UNFINISHED_CALL, "is_error": True}],
        },
        {"role": "user", "content": "And that plus one?"},
    ]


def test_ollama_replays_tool_calls_with_object_arguments_and_named_tool_turns():
    assert body(OllamaNDJSON())["messages"] == [
        {"role": "user", "content": "What is 6*7?"},
        {
            "role": "assistant",
            "content": "Let me work it out.",
            "tool_calls": [{"function": {"name": "calculate", "arguments": {"expression": "6*7"}}}],
        },
        {"role": "tool", "content": "42", "tool_name": "calculate"},
        {
            "role": "assistant",
            "content": "It is 42.",
            "tool_calls": [{"function": {"name": "current_time", "arguments": {"timezone": "Mars/Base"}}}],
        },
        {"role": "tool", "content": UNFINISHED_CALL, "tool_name": "current_time"},
        {"role": "user", "content": "And that plus one?"},
    ]
