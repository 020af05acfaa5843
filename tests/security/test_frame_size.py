"""Oversized frames (CVE-2026-44545): daphne refuses them before buffering, the consumer answers the rest.

Two limits: daphne's --websocket-max-message-size (PARLEY_WS_HARD_MAX_FRAME) closes the socket with
1009 before the payload is held in memory; below it, the consumer refuses anything over
PARLEY_WS_MAX_FRAME with a `frame_too_large` error frame and keeps the socket open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import psutil
import pytest
import websockets
from django.conf import settings

from tests.wsclient import LiveSocket, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

MiB = 1024 * 1024


async def close_code_after_sending(socket: LiveSocket, message) -> int:
    """Send (the server may cut us off mid-frame), then read until the server closes; its close code."""
    with contextlib.suppress(websockets.ConnectionClosed):
        await socket.connection.send(message)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await socket.connection.recv()
    return closed.value.rcvd.code if closed.value.rcvd else -1


@pytest.fixture
async def cookie(alice):
    return await login_cookie(alice)


async def test_frame_over_the_hard_limit_closes_with_1009(daphne, conversation, cookie):
    socket = await LiveSocket.open(daphne, conversation.id, cookie)
    await socket.receive()
    assert await close_code_after_sending(socket, "x" * (settings.PARLEY_WS_HARD_MAX_FRAME + 1)) == 1009


async def test_message_fragmented_past_the_hard_limit_closes_with_1009(daphne, conversation, cookie):
    socket = await LiveSocket.open(daphne, conversation.id, cookie)
    await socket.receive()
    fragments = ["x" * (64 * 1024)] * (settings.PARLEY_WS_HARD_MAX_FRAME // (64 * 1024) + 2)
    assert await close_code_after_sending(socket, fragments) == 1009


async def test_oversized_frames_leave_server_memory_flat(daphne, conversation, cookie):
    server = psutil.Process(daphne.process.pid)
    frame = "x" * (2 * MiB)

    async def one_oversized_frame() -> int:
        socket = await LiveSocket.open(daphne, conversation.id, cookie)
        await socket.receive()
        return await close_code_after_sending(socket, frame)

    await one_oversized_frame()  # warm-up: first-use allocations are not a leak
    before = server.memory_info().rss
    codes = [await one_oversized_frame() for _ in range(30)]
    grown = server.memory_info().rss - before
    assert codes == [1009] * 30
    assert grown < 16 * MiB, f"daphne grew by {grown / MiB:.1f} MiB over 30 x 2 MiB refused frames"


async def test_frame_between_the_limits_gets_an_error_and_the_socket_stays_open(daphne, conversation, cookie):
    socket = await LiveSocket.open(daphne, conversation.id, cookie)
    await socket.receive()
    content = "y" * (settings.PARLEY_WS_MAX_FRAME + 1024)
    assert len(content) < settings.PARLEY_WS_HARD_MAX_FRAME
    await socket.connection.send(json.dumps({"type": "message.send", "content": content, "request_id": "big"}))
    assert (await socket.receive())["code"] == "frame_too_large"
    await socket.send(type="sync")
    assert (await socket.receive())["type"] == "conversation.snapshot"
