"""httpcore's network backend on asyncio (conversations/llm/asyncio_network.py), against real sockets.
The HTTP behaviour through it (TLS, proxies, HTTP/2, pooling) is tested in test_http_network.py and
test_client.py, whose default transport runs on it."""

from __future__ import annotations

import asyncio

import httpcore
import pytest

from conversations.llm.asyncio_network import AsyncioBackend


@pytest.fixture
async def server():
    """A TCP server that hands each connection's (reader, writer) to the test, and the port it listens on."""
    accepted: asyncio.Queue = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    listening = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    yield listening.sockets[0].getsockname()[1], accepted
    listening.close()


async def test_reads_return_bytes_as_they_arrive_then_eof_which_makes_the_stream_readable(server) -> None:
    port, accepted = server
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    _, peer = await accepted.get()
    assert stream.get_extra_info("is_readable") is False  # idle, nothing sent: a pool may reuse it
    peer.write(b"hello")
    assert await stream.read(3) == b"hel"
    assert await stream.read(100) == b"lo"
    peer.close()
    assert await stream.read(100) == b""
    assert stream.get_extra_info("is_readable") is True  # closed by the server: a pool drops it
    await stream.aclose()


async def test_writes_reach_the_peer(server) -> None:
    port, accepted = server
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    reader, _ = await accepted.get()
    await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5)
    assert await asyncio.wait_for(reader.readexactly(18), 5) == b"GET / HTTP/1.1\r\n\r\n"
    await stream.aclose()


async def test_a_read_with_nothing_to_read_times_out_as_httpcore_says(server) -> None:
    port, _ = server
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    with pytest.raises(httpcore.ReadTimeout):
        await stream.read(100, timeout=0.05)
    await stream.aclose()


async def test_a_refused_connection_is_a_connect_error() -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
