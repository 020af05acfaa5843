"""OpenAI Chat Completions provider against a byte-exact local server: success, every failure, cancellation."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from conversations.llm.base import Finish, Options, Usage
from conversations.llm.errors import (
    AuthenticationFailed,
    ModelNotFound,
    RateLimited,
    StreamInterrupted,
    UpstreamConnectError,
    UpstreamErrorEvent,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from conversations.llm.formats.base import load_json
from conversations.llm.providers.openai import OpenAIProvider

from . import conftest
from .conftest import HOLD, RESET, Reply, collect, config, json_reply, split, text_of

pytestmark = pytest.mark.usefixtures("read_each_way")


def chunk(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    payload = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\r\n\r\n"


USAGE = b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n'
BODY = (
    b": OPENROUTER PROCESSING\n\n"
    + chunk("H\u00e9")
    + chunk(" \U0001f44b")
    + chunk(None, "stop")
    + USAGE
    + b"data: [DONE]\n\n"
)


async def test_streams_text_then_finish_with_usage_split_at_every_byte(serve) -> None:
    server = await serve(Reply(steps=split(BODY, 1)))
    events = await collect(OpenAIProvider(config(server.url + "/v1", api_key="sk-test")), temperature=0.5)
    assert events == ["H\u00e9", " \U0001f44b", Finish("stop", "gpt-test", Usage(5, 2))]
    request = server.requests[0]
    assert request["line"] == "POST /v1/chat/completions HTTP/1.1"
    assert request["headers"]["authorization"] == "Bearer sk-test"
    assert request["json"]["stream"] is True
    assert request["json"]["stream_options"] == {"include_usage": True}
    assert request["json"]["temperature"] == 0.5


async def test_server_ignoring_include_usage_and_done_still_finishes(serve) -> None:
    server = await serve(Reply(steps=[chunk("ok"), chunk(None, "length")]))
    events = await collect(OpenAIProvider(config(server.url)))
    assert events == ["ok", Finish("length", "gpt-test", None)]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(401, AuthenticationFailed), (403, AuthenticationFailed), (404, ModelNotFound), (400, Exception)],
)
async def test_error_status_maps_to_typed_error_with_server_message(serve, status, error_class) -> None:
    server = await serve(json_reply(status, {"error": {"message": "nope: bad thing", "type": "x"}}))
    with pytest.raises(error_class) as caught:
        await collect(OpenAIProvider(config(server.url)))
    assert "nope: bad thing" in str(caught.value)
    assert caught.value.partial == ""
    assert len(server.requests) == 1  # not retried


async def test_429_is_retried_honouring_retry_after_then_succeeds(serve) -> None:
    limited = json_reply(429, {"error": {"message": "slow down"}}, {"retry-after": "0.3"})
    server = await serve(limited, Reply(steps=[chunk("fine"), b"data: [DONE]\n\n"]))
    started = time.monotonic()
    events = await collect(OpenAIProvider(config(server.url)))
    assert text_of(events) == "fine"
    assert time.monotonic() - started >= 0.3
    assert len(server.requests) == 2


async def test_5xx_gives_up_after_max_attempts(serve) -> None:
    server = await serve(Reply(503, {"content-type": "text/plain"}, [b"upstream overloaded"]))
    with pytest.raises(UpstreamUnavailable, match="upstream overloaded") as caught:
        await collect(OpenAIProvider(config(server.url, max_attempts=3)))
    assert len(server.requests) == 3
    assert caught.value.user_message.startswith("The language model service is having trouble")


async def test_rate_limit_exhausted_raises_rate_limited(serve) -> None:
    server = await serve(json_reply(429, {"error": {"message": "quota"}}, {"retry-after": "0"}))
    with pytest.raises(RateLimited, match="quota"):
        await collect(OpenAIProvider(config(server.url, max_attempts=2)))
    assert len(server.requests) == 2


async def test_no_retry_once_text_arrived(serve) -> None:
    server = await serve(Reply(steps=[chunk("half"), RESET]), Reply(steps=[chunk("again"), b"data: [DONE]\n\n"]))
    with pytest.raises(StreamInterrupted) as caught:
        await collect(OpenAIProvider(config(server.url)))
    assert caught.value.partial == "half"
    assert len(server.requests) == 1


async def test_connection_refused_is_a_connect_error() -> None:
    with pytest.raises(UpstreamConnectError, match="cannot connect"):
        await collect(OpenAIProvider(config("http://127.0.0.1:9", max_attempts=2)))


async def test_malformed_json_is_a_protocol_error_with_partial(serve) -> None:
    server = await serve(Reply(steps=[chunk("before"), b"data: {not json\n\n"]))
    with pytest.raises(UpstreamProtocolError, match="malformed JSON") as caught:
        await collect(OpenAIProvider(config(server.url)))
    assert caught.value.partial == "before"


async def test_error_object_mid_stream_is_an_error_event_with_partial(serve) -> None:
    error = b'data: {"error": {"message": "model crashed", "type": "server_error"}}\n\n'
    server = await serve(Reply(steps=[chunk("so "), chunk("far"), error]))
    with pytest.raises(UpstreamErrorEvent, match="model crashed") as caught:
        await collect(OpenAIProvider(config(server.url)))
    assert caught.value.partial == "so far"


async def test_clean_end_without_finish_is_interrupted(serve) -> None:
    server = await serve(Reply(steps=[chunk("cut")]))
    with pytest.raises(StreamInterrupted, match="ended before") as caught:
        await collect(OpenAIProvider(config(server.url)))
    assert caught.value.partial == "cut"


async def test_first_byte_timeout(serve) -> None:
    server = await serve(Reply(steps=[HOLD]))
    with pytest.raises(UpstreamTimeout) as caught:
        await collect(OpenAIProvider(config(server.url, first_byte=0.3)))
    assert caught.value.partial == ""


async def test_idle_timeout_is_not_fooled_by_dripping_bytes(serve) -> None:
    drip = [item for _ in range(40) for item in (0.05, b":")]
    server = await serve(Reply(steps=[chunk("start"), *drip]))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        await collect(OpenAIProvider(config(server.url, idle=0.4)))
    assert caught.value.partial == "start"
    assert time.monotonic() - started < 1.5


async def test_cancelling_the_consumer_closes_the_connection_at_once(serve) -> None:
    server = await serve(Reply(steps=[chunk("tick"), HOLD]))
    provider = OpenAIProvider(config(server.url))
    first = asyncio.Event()

    async def consume() -> None:
        messages = [{"role": "user", "content": "x"}]
        if conftest.PUSHED:
            await provider.stream_to(messages, Options("m"), lambda _text: first.set())
            return
        async for _ in provider.stream(messages, Options("m")):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.closed.wait(), 1.0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and t.get_coro().__name__ != "_serve"]
    assert others == []


@pytest.mark.parametrize(
    "data",
    [
        '{"choices": [], "score": NaN}',  # json's extension, refused by orjson
        '{"choices": [], "text": "\\ud83d"}',  # a lone surrogate, refused by orjson
        '{"choices": [{"delta": {"content": "é"}}]}',
    ],
)
def test_an_event_parses_exactly_as_the_json_module_parses_it(data) -> None:
    """orjson parses events on the hot path; what it refuses and json accepts still parses."""
    parsed, expected = load_json(data), json.loads(data)
    assert repr(parsed) == repr(expected)  # repr: NaN is not equal to itself
