"""Anthropic Messages provider against a local server sending the documented event sequence."""

from __future__ import annotations

import json

import pytest

from conversations.llm.base import Finish, Usage
from conversations.llm.errors import StreamInterrupted, UpstreamErrorEvent
from conversations.llm.providers.anthropic import AnthropicProvider

from .conftest import Reply, collect, config, split

pytestmark = pytest.mark.usefixtures("read_each_way")


def event(name: str, payload: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def text_delta(text: str) -> bytes:
    return event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


START = event(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-test",
            "stop_reason": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
)
BLOCK = event(
    "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
)
PING = event("ping", {"type": "ping"})
END = (
    event("content_block_stop", {"type": "content_block_stop", "index": 0})
    + event(
        "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 15}}
    )
    + event("message_stop", {"type": "message_stop"})
)


async def test_documented_stream_split_at_every_byte(serve) -> None:
    body = START + BLOCK + PING + text_delta("Hello, ") + text_delta("w\u00f6rld \u2728") + END
    server = await serve(Reply(steps=split(body, 1)))
    events = await collect(AnthropicProvider(config(server.url, api_key="key-1")), max_tokens=100)
    assert events == ["Hello, ", "w\u00f6rld \u2728", Finish("end_turn", "claude-test", Usage(25, 15))]
    request = server.requests[0]
    assert request["line"] == "POST /v1/messages HTTP/1.1"
    assert request["headers"]["x-api-key"] == "key-1"
    assert request["headers"]["anthropic-version"] == "2023-06-01"
    assert request["json"]["system"] == "be brief"
    assert request["json"]["messages"] == [{"role": "user", "content": "hi"}]
    assert request["json"]["max_tokens"] == 100


async def test_error_event_mid_stream_keeps_partial(serve) -> None:
    error = event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    server = await serve(Reply(steps=[START, BLOCK, text_delta("part"), error]))
    with pytest.raises(UpstreamErrorEvent, match="Overloaded") as caught:
        await collect(AnthropicProvider(config(server.url)))
    assert caught.value.partial == "part"


async def test_stream_without_message_stop_is_interrupted(serve) -> None:
    server = await serve(Reply(steps=[START, BLOCK, text_delta("cut")]))
    with pytest.raises(StreamInterrupted) as caught:
        await collect(AnthropicProvider(config(server.url)))
    assert caught.value.partial == "cut"
