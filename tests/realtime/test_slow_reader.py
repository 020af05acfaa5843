"""A client that reads slowly gets every byte, in order: the server sends what the kernel takes
at once and queues the rest (chatsite/compat.py, direct_socket_writes). The snapshots here are larger
than the limit on incoming frames, which does not apply to what the server sends (unlimited_outgoing_messages)."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conversations.models import Conversation, Message
from tests.servers import ServerProcess, live_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BIG = "0123456789abcdef" * 100_000  # 1.6 MB: over the 1 MiB incoming limit, and far more than socket buffers hold


def open_without_reading(server: ServerProcess, conversation_id, cookie: str) -> socket.socket:
    """A WebSocket handshake by hand on a socket with a tiny receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/conversations/{conversation_id}/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {server.http_url}\r\nCookie: sessionid={cookie}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the socket"
        data += chunk
    return bytes(data)


def read_text_frame(sock: socket.socket) -> dict:
    first, second = read_exactly(sock, 2)
    assert first == 0x81, hex(first)  # FIN and a text frame: the server sends each message whole
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", read_exactly(sock, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read_exactly(sock, 8))
    return json.loads(read_exactly(sock, length))


def send_text_frame(sock: socket.socket, text: str) -> None:
    payload, mask = text.encode(), os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)


@pytest.fixture
def big_chat(transactional_db):
    owner = get_user_model().objects.create_user("dora", password="pw-dora-123")
    chat = Conversation.objects.create(owner=owner, title="Big")
    Message.objects.create(conversation=chat, position=0, role="user", content=BIG)
    return owner, chat


def test_large_frames_to_a_slow_reader_arrive_whole_and_in_order(big_chat, redis_url):
    owner, chat = big_chat
    client = Client()
    client.force_login(owner)
    server = ServerProcess(live_env(REDIS_URL=redis_url, PARLEY_SYNC_INTERVAL="0")).start()  # no folding
    try:
        sock = open_without_reading(server, chat.id, client.cookies["sessionid"].value)
        for _ in range(3):
            send_text_frame(sock, '{"type": "sync"}')  # more snapshots, queued behind the first
        time.sleep(1.0)  # the server has written all it can; the rest waits in its queue
        sock.settimeout(30)
        snapshots = [read_text_frame(sock) for _ in range(4)]
        sock.close()
    finally:
        server.stop()
    for snapshot in snapshots:
        assert snapshot["type"] == "conversation.snapshot"
        assert [m["content"] for m in snapshot["messages"]] == [BIG]
