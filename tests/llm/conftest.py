"""A scriptable raw-asyncio HTTP server speaking any wire format byte for byte, and provider helpers."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from conversations.llm.base import Event, Options
from conversations.llm.client import close_http_clients
from conversations.llm.config import HTTPLimits, HTTPNetwork, ProviderConfig
from conversations.llm.providers.simulator import stop_in_process_simulator

from .servers import Authority, ProxyProcess

RESET = "reset"  # abort the connection with a TCP RST
HOLD = "hold"  # send nothing more, keep the connection open


@dataclass
class Reply:
    """One scripted response: a head, then body steps (bytes to write, float seconds to wait, RESET, HOLD)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    steps: Sequence[bytes | float | str] = ()
    chunked: bool = True


def split(body: bytes, size: int = 1) -> list[bytes]:
    """Cut a body into `size`-byte pieces, so events and UTF-8 characters are split everywhere."""
    return [body[i : i + size] for i in range(0, len(body), size)]


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"content-type": "application/json", **(headers or {})}, [json.dumps(payload).encode()])


class ScriptedServer:
    """Answers the n-th request with the n-th reply (the last one repeats) and records what it saw."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.closed = asyncio.Event()  # set when a client closes or drops a connection
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while await self._answer_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            writer.close()

    async def _answer_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        self.requests.append({"line": lines[0], "headers": headers, "json": json.loads(body or b"null")})
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        return await self._write(reply, reader, writer)

    async def _write(self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        framing = {"transfer-encoding": "chunked"} if reply.chunked else {"connection": "close"}
        head = [f"HTTP/1.1 {reply.status} X"] + [f"{k}: {v}" for k, v in (reply.headers | framing).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for step in reply.steps:
            if isinstance(step, float | int) and not isinstance(step, bool):
                await writer.drain()
                await asyncio.sleep(step)
            elif step == RESET:
                writer.transport.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                writer.transport.abort()
                return False
            elif step == HOLD:
                await writer.drain()
                await reader.read()  # until the client goes away
                return False
            elif isinstance(step, bytes) and step:
                writer.write(b"%x\r\n%s\r\n" % (len(step), step) if reply.chunked else step)
                await writer.drain()
        if not reply.chunked:
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """`server = await serve(Reply(...), ...)` starts a scripted server, closed after the test."""
    servers: list[ScriptedServer] = []

    async def start(*replies: Reply) -> ScriptedServer:
        server = await ScriptedServer(replies).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture(autouse=True)
async def _close_per_loop_resources() -> AsyncIterator[None]:
    """Each test runs on its own loop: close the loop's HTTP clients and in-process simulator."""
    yield
    await close_http_clients()
    await stop_in_process_simulator()


@pytest.fixture(scope="session")
def authority(tmp_path_factory) -> Authority:
    """A CA made for the test run, its localhost server certificate and a client certificate."""
    return Authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def forward_proxy(tmp_path_factory) -> Iterator[ProxyProcess]:
    """A real forward proxy (proxy.py), started once for the run."""
    proxy = ProxyProcess(tmp_path_factory.mktemp("proxy"))
    yield proxy
    proxy.stop()


def config(base_url: str, **overrides: Any) -> ProviderConfig:
    """A provider config with short bounds so failure tests stay fast, on the transport under test."""
    limits = HTTPLimits(
        connect_timeout=2.0,
        first_byte_timeout=overrides.pop("first_byte", 5.0),
        idle_timeout=overrides.pop("idle", 5.0),
    )
    defaults: dict[str, Any] = {"limits": limits, "retry_base_delay": 0.01, "max_attempts": 3}
    return ProviderConfig(base_url=base_url, **(defaults | {"network": HTTPNetwork(fast=FAST)} | overrides))


PUSHED = False  # how `collect` reads: `stream` (iterated) or `stream_to`
FAST = False  # which transport `config` picks: httpx's own, or transport.FastTransport


@pytest.fixture(params=["stream-default", "stream_to-default", "stream-fast", "stream_to-fast"])
def read_each_way(request, monkeypatch) -> None:
    """`stream` and `stream_to` must agree exactly, over httpx's own transport and the fast one."""
    reading, transport = request.param.split("-")
    monkeypatch.setattr(f"{__name__}.PUSHED", reading == "stream_to")
    monkeypatch.setattr(f"{__name__}.FAST", transport == "fast")


@pytest.fixture(params=["default", "fast"])
def transport(request, monkeypatch) -> str:
    """Run a network test over httpx's own transport and over the fast one; `config` follows it."""
    monkeypatch.setattr(f"{__name__}.FAST", request.param == "fast")
    return request.param


async def collect(provider: Any, content: str = "hi", model: str = "m", **options: Any) -> list[Event]:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}]
    if not PUSHED:
        return [event async for event in provider.stream(messages, Options(model, **options))]
    texts: list[Event] = []
    finish = await provider.stream_to(messages, Options(model, **options), texts.append)
    return [*texts, finish]


def text_of(events: Sequence[Event]) -> str:
    return "".join(e for e in events if isinstance(e, str))
