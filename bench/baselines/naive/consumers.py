"""The Channels tutorial pattern applied to an LLM: every token is one group_send.

The reply streams in a task started from receive(), so the consumer keeps dispatching the
group messages (through the default dispatch) while the reply is still arriving.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from .. import frames
from ..sse import DONE, text_of

_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


def client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        _clients[loop] = httpx.AsyncClient(limits=limits, timeout=60)
    return _clients[loop]


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.conversation_id = str(self.scope["url_route"]["kwargs"]["conversation_id"])
        self.group = f"conv-{self.conversation_id}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps(frames.snapshot(self.conversation_id)))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        if frame.get("type") == "message.send":
            self.reply_task = asyncio.create_task(self.stream_reply(frame["content"], frame.get("request_id")))

    async def stream_reply(self, content: str, request_id: str | None) -> None:
        await self.broadcast(frames.created(frames.message("user", content), request_id))
        msg = frames.message("assistant", status="streaming")
        await self.broadcast(frames.created(msg, request_id))
        parts: list[str] = []
        body = frames.upstream_request(content)
        async with client().stream("POST", f"{settings.UPSTREAM}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                text = text_of(line)
                if text is DONE:
                    break
                if text:
                    parts.append(text)
                    await self.broadcast(frames.delta(msg["id"], len(parts), text))
        msg.update(content="".join(parts), seq=len(parts), status="complete")
        await self.broadcast(frames.completed(msg))

    async def broadcast(self, frame: dict) -> None:
        await self.channel_layer.group_send(self.group, {"type": "chat.message", "frame": frame})

    async def chat_message(self, event: dict) -> None:
        await self.send(text_data=json.dumps(event["frame"]))
