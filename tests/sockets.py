"""Socket fixtures for the consumer and security tests: real sessions, the real ASGI app and layer.

Loaded as a pytest plugin by tests/conftest.py, so every test area shares one definition.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from chatsite.asgi import application
from conversations.generation import shut_down

ORIGIN = "http://127.0.0.1"


def session_cookie(user) -> str:
    """A new logged-in session for `user`, in whatever SESSION_ENGINE is configured."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class Socket:
    """A protocol v1 client over the real ASGI application."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, **frame) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 5.0) -> dict:
        return json.loads(await self.communicator.receive_from(timeout))

    async def receive_until(self, frame_type: str, timeout: float = 10.0) -> list[dict]:
        """Every frame up to and including the first of `frame_type`."""
        frames = []
        while True:
            frames.append(await self.receive(timeout))
            if frames[-1]["type"] == frame_type:
                return frames

    async def close_code(self, timeout: float = 10.0) -> int:
        """Read until the server closes the socket; its close code."""
        while True:
            message = await self.communicator.receive_output(timeout)
            if message["type"] == "websocket.close":
                return message.get("code", 1000)

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
async def close_thread_connections():
    """Close the DB connection of asgiref's worker thread, so the test database can be dropped."""
    yield
    await sync_to_async(connections.close_all)()


Connect = Callable[..., Awaitable[tuple[bool, object]]]


@pytest.fixture
async def connect(transactional_db) -> AsyncIterator[Connect]:
    """Open a socket as a user (or anonymously), in a new session unless `cookie` names one, with an
    optional query string ("watch=all"); returns (accepted, Socket or close code)."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(user, conversation_id, origin: str = ORIGIN, cookie: str | None = None, query: str = ""):
        headers = [(b"origin", origin.encode())]
        if user is not None:
            cookie = cookie or await sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        # No conversation id: the conversation list's socket (`/ws/conversations/`).
        path = "/ws/conversations/" + ("" if conversation_id is None else f"{conversation_id}/")
        path += f"?{query}" if query else ""
        communicator = WebsocketCommunicator(application, path, headers)
        accepted, detail = await communicator.connect(timeout=5)
        opened.append(communicator)
        return accepted, Socket(communicator) if accepted else detail

    yield open_socket
    for communicator in opened:
        await communicator.disconnect()
    await shut_down()
