"""httpcore's network layer on asyncio's transports and protocols, without anyio's per-read cost.

httpcore reads a response through its network backend, and its own backend (anyio's streams)
enters and leaves a cancel scope (`anyio.fail_after`) for every socket read, even with no
timeout: in a profile of 300 streaming replies that was more than half of reading their bodies
(docs/performance.md, "The budget on a quiet machine"). Upstream knows the cost
(encode/httpx#3215; a native asyncio backend was proposed in encode/httpcore#930 and for the fork
in pydantic/httpx2#1170). This backend implements httpcore's public `AsyncNetworkBackend` and
`AsyncNetworkStream` interfaces: a read returns buffered bytes at once or waits on one future,
with a timer only when there is a timeout; a write waits only while the transport applies
backpressure. HTTP parsing stays httpcore's (h11, h2).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Iterable
from typing import Any

import httpcore

HIGH_WATER = 256 * 1024  # bytes buffered before the socket stops being read
LOW_WATER = 64 * 1024  # ...and below which it is read again


class _Protocol(asyncio.Protocol):
    """Bytes received and not yet read, EOF, the connection's loss, and write backpressure."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.lost: Exception | None = None
        self.closed = False
        self.reader: asyncio.Future | None = None  # a read waiting for bytes
        self.writable = asyncio.Event()
        self.writable.set()
        self.paused_reading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        self.writable.set()
        self._wake()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def _wake(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self.paused_reading and len(self.buffer) < LOW_WATER and self.transport is not None:
            self.paused_reading = False
            self.transport.resume_reading()
        return data


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self.transport = transport
        self.protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self.protocol
        if not protocol.buffer and not protocol.eof and not protocol.closed:
            protocol.reader = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(protocol.reader, timeout) if timeout is not None else await protocol.reader
            except TimeoutError as error:
                raise httpcore.ReadTimeout(str(error) or "timed out reading") from None
            finally:
                protocol.reader = None
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.lost is not None:
            raise httpcore.ReadError(str(protocol.lost)) from protocol.lost
        return b""  # EOF, or closed cleanly

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self.protocol
        if protocol.closed or self.transport.is_closing():
            raise httpcore.WriteError(str(protocol.lost or "the connection is closed"))
        self.transport.write(buffer)
        if not protocol.writable.is_set():
            try:
                await asyncio.wait_for(protocol.writable.wait(), timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout("timed out writing") from None
            if protocol.closed:
                raise httpcore.WriteError(str(protocol.lost or "the connection is closed"))

    async def aclose(self) -> None:
        self.transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await asyncio.wait_for(
                loop.start_tls(self.transport, self.protocol, ssl_context, server_hostname=server_hostname),
                timeout,
            )
        except TimeoutError:
            self.transport.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError) as error:
            self.transport.close()
            raise httpcore.ConnectError(str(error)) from error
        self.protocol.transport = transport  # type: ignore[assignment]  # reads pause and resume the TLS layer
        return AsyncioStream(transport, self.protocol)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self.transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self.transport.get_extra_info("sockname")
        if info == "server_addr":
            return self.transport.get_extra_info("peername")
        if info == "socket":
            return self.transport.get_extra_info("socket")
        if info == "is_readable":  # an idle pooled connection the server closed or wrote to
            return bool(self.protocol.buffer) or self.protocol.eof or self.protocol.closed
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections for httpcore's pools, straight on the running asyncio loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        connecting = loop.create_connection(_Protocol, host, port, local_addr=local)
        return await _connected(connecting, timeout, f"{host}:{port}", socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        connecting = asyncio.get_running_loop().create_unix_connection(_Protocol, path)
        return await _connected(connecting, timeout, path, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(
    connecting: Awaitable[tuple[asyncio.BaseTransport, _Protocol]],
    timeout: float | None,
    where: str,
    socket_options: Iterable[Any] | None,
) -> AsyncioStream:
    """The stream of a connection being opened, its failures as httpcore's connect errors."""
    try:
        transport, protocol = await asyncio.wait_for(connecting, timeout)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"timed out connecting to {where}") from None
    except OSError as error:
        raise httpcore.ConnectError(str(error)) from error
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        for option in socket_options or ():
            sock.setsockopt(*option)
    return AsyncioStream(transport, protocol)  # type: ignore[arg-type]
