"""Tool calling in each wire format, against local servers sending the vendors' documented streams:
the tools and the tool turns as each request encodes them, the calls as each stream returns them,
and the calls as they stand while they stream (name first, then the arguments growing)."""

from __future__ import annotations

import json

from conversations.llm.base import Options, ToolCall, ToolResult, ToolSpec
from conversations.llm.providers.anthropic import AnthropicProvider
from conversations.llm.providers.ollama import OllamaProvider
from conversations.llm.providers.openai import OpenAIProvider

from .conftest import Reply, config, split

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)
CALL = ToolCall("call_1", "get_weather", '{"location":"Paris"}')
HISTORY = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "Checking.", "tool_calls": [CALL]},
    {"role": "tool", "content": "18C and sunny", "tool_result": ToolResult("call_1", "get_weather", "18C and sunny")},
    {"role": "tool", "content": "boom", "tool_result": ToolResult("call_2", "get_weather", "boom", is_error=True)},
]
OPTIONS = Options("m", tools=(WEATHER,))


async def run(provider, messages=HISTORY, seen: list | None = None) -> tuple[list[str], object]:
    """Stream a reply; `seen` collects the calls as they stood at each change, repeats left out."""
    texts: list[str] = []

    def changed(calls) -> None:
        now = calls.so_far()
        if seen is not None and (not seen or seen[-1] != now):
            seen.append(now)

    finish = await provider.stream_to(messages, OPTIONS, texts.append, changed)
    return texts, finish


def weather(call_id: str, arguments: str) -> ToolCall:
    return ToolCall(call_id, "get_weather", arguments)


def sse(payload: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


def openai_chunk(delta: dict, finish_reason: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return sse({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test", "choices": [choice]})


async def test_chat_completions_tools_out_and_streamed_calls_back(serve) -> None:
    head = {"index": 0, "id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    body = (
        openai_chunk({"role": "assistant", "content": None, "tool_calls": [head]})
        + openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"lo'}}]})
        + openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'cation":"Lyon"}'}}]})
        + openai_chunk({"tool_calls": [{"index": 1, "id": "call_def", "function": {"name": "get_weather"}}]})
        + openai_chunk({}, "tool_calls")
        + b"data: [DONE]\n\n"
    )
    server = await serve(Reply(steps=split(body, 7)))
    seen: list = []
    texts, finish = await run(OpenAIProvider(config(server.url)), seen=seen)
    assert texts == [] and finish.reason == "tool_calls"
    assert seen == [  # the name first, then the arguments as they grow, then the next call
        (weather("call_abc", ""),),
        (weather("call_abc", '{"lo'),),
        (weather("call_abc", '{"location":"Lyon"}'),),
        (weather("call_abc", '{"location":"Lyon"}'), weather("call_def", "")),
    ]
    assert finish.tool_calls == (
        ToolCall("call_abc", "get_weather", '{"location":"Lyon"}'),
        ToolCall("call_def", "get_weather", "{}"),
    )
    sent = server.requests[0]["json"]
    assert sent["tools"] == [{"type": "function", "function": {"name": "get_weather", **_described()}}]
    assert sent["messages"][2:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": CALL.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "boom"},
    ]


def _described() -> dict:
    return {"description": WEATHER.description, "parameters": WEATHER.parameters}


def anthropic(name: str, payload: dict) -> bytes:
    return sse({"type": name, **payload}, name)


async def test_anthropic_tool_use_blocks_out_and_streamed_input_json_back(serve) -> None:
    message = {"id": "m1", "type": "message", "role": "assistant", "content": [], "model": "claude-test"}
    tool_use = {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}}
    body = (
        anthropic("message_start", {"message": {**message, "usage": {"input_tokens": 30, "output_tokens": 1}}})
        + anthropic("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        + anthropic("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Okay."}})
        + anthropic("content_block_stop", {"index": 0})
        + anthropic("content_block_start", {"index": 1, "content_block": tool_use})
        + anthropic("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}})
        + anthropic(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"location": "Ni'}},
        )
        + anthropic("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": 'ce"}'}})
        + anthropic("content_block_stop", {"index": 1})
        + anthropic("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}})
        + anthropic("message_stop", {})
    )
    server = await serve(Reply(steps=split(body, 5)))
    seen: list = []
    texts, finish = await run(AnthropicProvider(config(server.url)), seen=seen)
    assert texts == ["Okay."] and finish.reason == "tool_use"
    assert seen == [
        (weather("toolu_01", ""),),
        (weather("toolu_01", '{"location": "Ni'),),
        (weather("toolu_01", '{"location": "Nice"}'),),
    ]
    assert finish.tool_calls == (ToolCall("toolu_01", "get_weather", '{"location": "Nice"}'),)
    sent = server.requests[0]["json"]
    assert sent["tools"] == [
        {"name": "get_weather", "description": WEATHER.description, "input_schema": WEATHER.parameters}
    ]
    assert sent["system"] == "be brief"
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C and sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "boom", "is_error": True},
            ],
        },
    ]


def ollama(message: dict, done: bool = False, **extra) -> bytes:
    line = {"model": "llama-test", "created_at": "2024-01-01T00:00:00Z", "message": message, "done": done, **extra}
    return json.dumps(line).encode() + b"\n"


async def test_ollama_tools_out_and_whole_calls_back(serve) -> None:
    call = {"function": {"name": "get_weather", "arguments": {"location": "Porto"}}}
    body = ollama({"role": "assistant", "content": "", "tool_calls": [call]}) + ollama(
        {"role": "assistant", "content": ""}, True, done_reason="stop", prompt_eval_count=9, eval_count=4
    )
    server = await serve(Reply(headers={"content-type": "application/x-ndjson"}, steps=split(body, 9)))
    seen: list = []
    texts, finish = await run(OllamaProvider(config(server.url)), seen=seen)
    assert texts == []
    assert seen == [(weather("call_0", ""),), (weather("call_0", '{"location": "Porto"}'),)]  # whole calls
    assert finish.tool_calls == (ToolCall("call_0", "get_weather", '{"location": "Porto"}'),)
    sent = server.requests[0]["json"]
    assert sent["tools"] == [{"type": "function", "function": {"name": "get_weather", **_described()}}]
    assert sent["messages"][2:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"location": "Paris"}}}],
        },
        {"role": "tool", "content": "18C and sunny", "tool_name": "get_weather"},
        {"role": "tool", "content": "boom", "tool_name": "get_weather"},
    ]


async def test_a_malformed_call_is_passed_on_as_sent_and_encoded_as_an_empty_object(serve) -> None:
    bad = ToolCall("call_9", "get_weather", '{"location": "Par')
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [bad]}]
    body = anthropic("message_start", {"message": {"model": "c", "usage": {}}}) + anthropic("message_stop", {})
    server = await serve(Reply(steps=[body]))
    await run(AnthropicProvider(config(server.url)), messages)
    assert server.requests[0]["json"]["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_9", "name": "get_weather", "input": {}}
    ]


async def test_no_tools_means_no_tools_field(serve) -> None:
    server = await serve(Reply(steps=[openai_chunk({"content": "hi"}, "stop") + b"data: [DONE]\n\n"]))
    texts: list[str] = []
    await OpenAIProvider(config(server.url)).stream_to([{"role": "user", "content": "x"}], Options("m"), texts.append)
    assert "tools" not in server.requests[0]["json"] and texts == ["hi"]
