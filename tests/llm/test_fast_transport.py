"""The LLM transport over real sockets: keep-alive, pool bounds, early close, stale connections, TLS."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from conversations.llm.transport import PUSH, StreamingTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class RawServer:
    """Runs `handler` per connection and counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.ended = asyncio.Event()  # set when a handler ends (the client closed or reset)

    async def start(self, tls: ssl.SSLContext | None = None) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        scheme = "https" if tls else "http"
        return f"{scheme}://localhost:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.ended.set()
            writer.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    return head + await reader.readexactly(length)


def answer_once(response: bytes) -> Handler:
    """A handler that reads one request, writes `response` and leaves the connection to the server."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response)

    return handler


async def answer_ok_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()


@pytest.fixture
async def client() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def make(max_connections: int = 10, context: ssl.SSLContext | None = None, **timeouts: float) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        transport = StreamingTransport(limits, context or ssl.create_default_context())
        clients.append(httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, **timeouts)))
        return clients[-1]

    yield make
    for each in clients:
        await each.aclose()


async def test_requests_reuse_one_kept_alive_connection_and_send_their_body(client) -> None:
    seen: list[bytes] = []

    async def handler(reader, writer):
        while True:
            seen.append(await read_request(reader))
            writer.write(OK)

    server = RawServer(handler)
    url = await server.start()
    http = client()
    for n in range(3):
        response = await http.post(f"{url}/v1/chat?x={n}", json={"n": n})
        assert (response.status_code, response.text) == (200, "ok")
    assert server.connections == 1
    assert seen[2].startswith(b"POST /v1/chat?x=2 HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 7\r\n" in seen[2] and seen[2].endswith(b'{"n":2}')


async def test_a_closing_server_gets_a_new_connection_per_request(client) -> None:
    server = RawServer(answer_once(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye"))
    url = await server.start()
    http = client()
    assert [(await http.get(url)).text for _ in range(2)] == ["bye", "bye"]
    assert server.connections == 2


async def test_a_stream_is_read_as_it_arrives_and_closing_it_early_drops_the_connection(client) -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
        await reader.read()  # the rest never comes: wait for the client to give up

    server = RawServer(handler)
    url = await server.start()
    http = client(max_connections=1)
    async with http.stream("GET", url) as response:
        assert await anext(response.aiter_raw()) == b"one"
    await asyncio.wait_for(server.ended.wait(), 2)  # the abandoned connection was closed, not pooled
    assert http._transport.pool.in_use == 0


class Sink:
    """Records what a pushed body delivers, and when it ends."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ended = asyncio.get_running_loop().create_future()

    def body(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def end(self, error: Exception | None) -> None:
        self.ended.set_result(error)


async def test_a_pushed_body_arrives_in_callbacks_after_what_was_already_queued(client) -> None:
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
    http = client(max_connections=1)
    async with http.stream("GET", url) as response:
        await asyncio.sleep(0.1)  # "one" is queued before anyone reads
        sink = Sink()
        response.extensions[PUSH](sink)
        resume.set()
        assert await asyncio.wait_for(sink.ended, 2) is None
    assert b"".join(sink.chunks) == b"onetwo"
    assert (await http.get(url)).text == "ok" and server.connections == 1  # read to the end, so kept alive


async def test_a_reset_mid_pushed_body_ends_the_sink_with_a_transport_error(client) -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.transport.abort()

    server = RawServer(handler)
    url = await server.start()
    async with client().stream("GET", url) as response:
        sink = Sink()
        response.extensions[PUSH](sink)
        error = await asyncio.wait_for(sink.ended, 2)
    assert isinstance(error, httpx.TransportError) and b"".join(sink.chunks) == b"partial"


async def test_requests_past_max_connections_wait_their_turn_or_time_out(client) -> None:
    server = RawServer(answer_ok_forever)
    url = await server.start()
    http = client(max_connections=1, pool=0.2)
    async with http.stream("GET", url) as first:
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url)
        waiting = asyncio.create_task(http.get(url))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await first.aread()
    assert (await waiting).text == "ok"
    assert server.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_replaced_transparently(client) -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        # then close without saying so: the client learns only when it tries to reuse it

    server = RawServer(handler)
    url = await server.start()
    http = client()
    assert (await http.get(url)).text == "ok"
    await asyncio.wait_for(server.ended.wait(), 2)
    assert (await http.get(url)).text == "ok"
    assert server.connections == 2


async def test_a_reset_mid_body_raises_a_transport_error_after_the_bytes_that_arrived(client) -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.transport.abort()

    server = RawServer(handler)
    url = await server.start()
    received = b""
    with pytest.raises(httpx.TransportError):
        async with client().stream("GET", url) as response:
            async for data in response.aiter_raw():
                received += data
    assert received == b"partial"


async def test_refused_connections_and_garbage_are_typed_httpx_errors(client) -> None:
    server = RawServer(answer_once(b"SSH-2.0-OpenSSH\r\n\r\n"))
    url = await server.start()
    http = client()
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(url)
    server.server.close()
    await server.server.wait_closed()
    with pytest.raises(httpx.ConnectError):
        await http.get(url)
    assert http._transport.pool.in_use == 0


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_connections_verify_the_server_certificate(client, certificate) -> None:
    cert, key = certificate
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = RawServer(answer_ok_forever)
    url = await server.start(tls)
    with pytest.raises(httpx.ConnectError):
        await client().get(url)  # the system trust store does not know this certificate
    trusting = ssl.create_default_context(cafile=str(cert))
    assert (await client(context=trusting).get(url)).text == "ok"
