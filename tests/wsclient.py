"""A protocol v1 client over a real WebSocket library, for tests against live daphne."""

from __future__ import annotations

import asyncio
import json

import websockets
from asgiref.sync import sync_to_async
from django.test import Client


@sync_to_async
def login_cookie(user) -> str:
    """A real session for `user` in the shared test database."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def sockets_past_snapshot(servers, owner, chat) -> list[LiveSocket]:
    """A logged-in socket on every server for `chat`, each past its snapshot."""
    cookie = await login_cookie(owner)
    sockets = [await LiveSocket.open(server, chat.id, cookie) for server in servers]
    for socket in sockets:
        await socket.receive()
    return sockets


class LiveSocket:
    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, server, conversation_id, cookie: str, origin: str | None = None) -> LiveSocket:
        connection = await websockets.connect(
            f"{server.ws_url}/ws/conversations/{conversation_id}/",
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": origin or server.http_url},
            max_size=None,
            max_queue=None,  # like a browser: frames a test leaves unread never stall the socket's close
            open_timeout=10,
        )
        return cls(connection)

    async def send(self, **frame) -> None:
        await self.connection.send(json.dumps(frame))

    async def receive(self, timeout: float = 10.0) -> dict:
        return json.loads(await asyncio.wait_for(self.connection.recv(), timeout))

    async def receive_until(self, frame_type: str, timeout: float = 30.0) -> list[dict]:
        frames = []
        async with asyncio.timeout(timeout):
            while True:
                frames.append(json.loads(await self.connection.recv()))
                if frames[-1]["type"] == frame_type:
                    return frames

    async def close(self) -> None:
        await self.connection.close()


class ReplyView:
    """What a browser would show for each message: the resume rule, applied client-side."""

    def __init__(self) -> None:
        self.messages: dict[str, dict] = {}
        self.needs_sync = False
        self.repeated_created = False  # a message.created for a message the client already had

    def apply(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "conversation.snapshot":
            self.messages = {m["id"]: dict(m) for m in frame["messages"]}
        elif kind == "message.created":
            self.repeated_created |= frame["message"]["id"] in self.messages
            self.messages[frame["message"]["id"]] = dict(frame["message"])
        elif kind == "message.completed":
            self.messages[frame["message"]["id"]] = dict(frame["message"])
        elif kind == "message.delta":
            message = self.messages.get(frame["message_id"])
            if message is None or frame["seq"] > message["seq"] + 1:
                self.needs_sync = True
            elif frame["seq"] == message["seq"] + 1:
                message["content"] += frame["delta"]
                message["seq"] = frame["seq"]
