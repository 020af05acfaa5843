"""Images in each wire format's request, against local servers: OpenAI `image_url` data URLs,
Anthropic base64 image blocks, Ollama `images`."""

from __future__ import annotations

import base64
import json

from conversations.llm.base import Image, Options
from conversations.llm.providers.anthropic import AnthropicProvider
from conversations.llm.providers.ollama import OllamaProvider
from conversations.llm.providers.openai import OpenAIProvider

from .conftest import Reply, config

PIXEL = Image("image/png", b"\x89PNG\r\n\x1a\nfake-bytes")
B64 = base64.b64encode(PIXEL.data).decode()
TURN = [{"role": "user", "content": "What is this?", "images": [PIXEL]}]


async def sent(provider, server) -> dict:
    await provider.stream_to(TURN, Options("m"), lambda text: None)
    return server.requests[0]["json"]["messages"][-1]


async def test_chat_completions_sends_image_url_data_urls(serve):
    done = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    server = await serve(Reply(steps=[done]))
    assert await sent(OpenAIProvider(config(server.url)), server) == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}},
        ],
    }


async def test_anthropic_sends_base64_image_blocks_before_the_text(serve):
    done = b'event: message_start\ndata: {"type":"message_start","message":{"model":"c","usage":{}}}\n\n'
    done += b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    server = await serve(Reply(steps=[done]))
    assert await sent(AnthropicProvider(config(server.url)), server) == {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64}},
            {"type": "text", "text": "What is this?"},
        ],
    }


async def test_ollama_sends_images_beside_the_content(serve):
    done = json.dumps({"model": "l", "message": {"role": "assistant", "content": ""}, "done": True}).encode() + b"\n"
    server = await serve(Reply(headers={"content-type": "application/x-ndjson"}, steps=[done]))
    assert await sent(OllamaProvider(config(server.url)), server) == {
        "role": "user",
        "content": "What is this?",
        "images": [B64],
    }
