"""Fixtures for the security tests: a shared live daphne and raw handshakes.

Users and conversations come from tests/conftest.py, the in-process socket fixture (`connect`)
from tests/sockets.py.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass

import pytest

from tests.servers import ServerProcess, live_env


@pytest.fixture(scope="package")
def daphne_process(django_db_setup, redis_url):
    """One daphne process for the live tests that do not need their own; it reads the test database."""
    server = ServerProcess(live_env(REDIS_URL=redis_url)).start()
    yield server
    server.stop()


@pytest.fixture
def daphne(daphne_process, transactional_db) -> ServerProcess:
    """The shared daphne, with this test's rows committed so that it sees them."""
    return daphne_process


@dataclass(frozen=True)
class Handshake:
    """What a raw WebSocket upgrade request got back."""

    status: int
    headers: dict[str, str]
    body: bytes


async def raw_handshake(server, path: str, headers: list[tuple[str, str]]) -> Handshake:
    """Send an upgrade request with exactly these extra headers (duplicates allowed) and read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        async with asyncio.timeout(10):
            status = int((await reader.readline()).split()[1])
            answer: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                answer[name.strip().lower()] = value.strip()
            body = b"" if status == 101 else await reader.read()
    finally:
        writer.close()
    return Handshake(status, answer, body)


def ws_path(conversation_id) -> str:
    return f"/ws/conversations/{conversation_id}/"


@pytest.fixture(autouse=True)
def thread_connections_closed(close_thread_connections):
    """Every test here closes asgiref's worker-thread connection (see tests/sockets.py)."""
