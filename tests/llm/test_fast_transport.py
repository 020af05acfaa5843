"""What only the fast transport does: push a body to a sink, and choose a proxy from the environment.

Everything both transports do (TLS, proxies, pool, keep-alive) is proven in test_http_network.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from conversations.llm.client import get_http_client
from conversations.llm.config import HTTPLimits, HTTPNetwork
from conversations.llm.network import ProxyChoice
from conversations.llm.transport import PUSH

from .servers import OK, RawServer, read_request

FAST = HTTPNetwork(fast=True)


class Sink:
    """Records what a pushed body delivers, and how it ends."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ended = asyncio.get_running_loop().create_future()

    def body(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def end(self, error: Exception | None) -> None:
        self.ended.set_result(error)


async def test_a_pushed_body_arrives_in_callbacks_after_what_was_already_queued() -> None:
    resume = asyncio.Event()

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
        await resume.wait()
        writer.write(b"3\r\ntwo\r\n0\r\n\r\n")
        await writer.drain()
        await read_request(reader)
        writer.write(OK)

    server = RawServer(handler)
    url = await server.start()
    http = get_http_client(HTTPLimits(max_connections=1), FAST)
    async with http.stream("GET", url) as response:
        async for chunk in response.aiter_raw():
            assert chunk == b"one"  # queued before anyone pushes
            break
        sink = Sink()
        response.extensions[PUSH](sink)
        resume.set()
        assert await asyncio.wait_for(sink.ended, 2) is None
    assert b"".join(sink.chunks) == b"two"
    assert (await http.get(url)).text == "ok" and server.connections == 1  # read to the end, so kept alive


async def test_a_reset_mid_pushed_body_ends_the_sink_with_a_transport_error() -> None:
    pushing = asyncio.Event()

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        await pushing.wait()
        writer.transport.abort()

    server = RawServer(handler)
    url = await server.start()
    async with get_http_client(HTTPLimits(), FAST).stream("GET", url) as response:
        sink = Sink()
        response.extensions[PUSH](sink)
        pushing.set()
        error = await asyncio.wait_for(sink.ended, 2)
    assert isinstance(error, httpx.TransportError) and b"".join(sink.chunks) == b"partial"


async def test_a_compressed_body_is_not_offered_for_pushing() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n")

    server = RawServer(handler)
    url = await server.start()
    response = await get_http_client(HTTPLimits(), FAST).get(url)
    assert PUSH not in response.extensions


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.com/v1", "http://proxy.corp:3128"),
        ("http://api.example.com/v1", "http://plain.corp:8080"),
        ("https://internal.corp/v1", None),
        ("https://llm.internal.corp:8443/v1", None),
        ("https://localhost:8443/v1", None),
    ],
)
def test_the_environment_proxy_is_chosen_unless_no_proxy_names_the_host(monkeypatch, url, expected) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "plain.corp:8080")
    monkeypatch.setenv("NO_PROXY", "internal.corp, localhost")
    chosen = ProxyChoice().for_url(httpx.URL(url))
    assert (str(chosen) if chosen else None) == expected


def test_an_explicit_proxy_carries_every_request_and_ignores_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    assert str(ProxyChoice("http://proxy.corp:3128").for_url(httpx.URL("https://localhost/v1"))) == (
        "http://proxy.corp:3128"
    )
