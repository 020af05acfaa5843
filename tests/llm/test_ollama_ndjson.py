"""Ollama provider against a local server streaming /api/chat NDJSON."""

from __future__ import annotations

import json

import pytest

from conversations.llm.base import Finish, Usage
from conversations.llm.errors import ModelNotFound, UpstreamErrorEvent
from conversations.llm.providers.ollama import OllamaProvider

from .conftest import Reply, collect, config, json_reply, split

pytestmark = pytest.mark.usefixtures("read_each_way")


def line(content: str, done: bool = False, **extra: object) -> bytes:
    payload = {
        "model": "llama-test",
        "created_at": "2024-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
        **extra,
    }
    return json.dumps(payload, ensure_ascii=False).encode() + b"\n"


NDJSON = {"content-type": "application/x-ndjson"}


async def test_lines_split_at_every_byte_then_done(serve) -> None:
    body = line("Ol\u00e1") + line(" mundo") + line("", True, done_reason="stop", prompt_eval_count=9, eval_count=2)
    server = await serve(Reply(headers=NDJSON, steps=split(body, 1)))
    events = await collect(OllamaProvider(config(server.url)), temperature=0.1, max_tokens=50)
    assert events == ["Ol\u00e1", " mundo", Finish("stop", "llama-test", Usage(9, 2))]
    request = server.requests[0]
    assert request["line"] == "POST /api/chat HTTP/1.1"
    assert request["json"]["options"] == {"temperature": 0.1, "num_predict": 50}


async def test_error_line_keeps_partial(serve) -> None:
    server = await serve(Reply(headers=NDJSON, steps=[line("some"), b'{"error": "out of memory"}\n']))
    with pytest.raises(UpstreamErrorEvent, match="out of memory") as caught:
        await collect(OllamaProvider(config(server.url)))
    assert caught.value.partial == "some"


async def test_unknown_model_is_model_not_found(serve) -> None:
    server = await serve(json_reply(404, {"error": "model 'nope' not found"}))
    with pytest.raises(ModelNotFound, match="model 'nope' not found"):
        await collect(OllamaProvider(config(server.url)))
