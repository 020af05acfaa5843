"""A lean HTTP/1.1 transport for httpx, built for long streamed responses.

httpx's default transport passes every body chunk through httpcore's pool, connection and
stream layers and h11's event machinery. A streamed reply arrives as one small chunk per token,
and that path cost about 45 of the 58 µs a token took to read (docs/performance.md). This
transport keeps httpx's client, request and response objects and replaces only the wire: one
`asyncio.Protocol` per connection that splits the response head and de-chunks the body as bytes
arrive, and a keep-alive pool per origin. It speaks HTTP/1.1 only, over TCP or TLS.

A response's body can also be pushed: `response.extensions["parley.push"](sink)` hands every
body chunk to `sink.body()` from the protocol's own callback, and the end to `sink.end()`. A
reader that parses synchronously then wakes no task per chunk: that wake-up, through httpx's
and our iterator layers, was a fifth of the server's time while streaming (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any, Protocol

import httpx

from .http11 import ResponseParser

PAUSE_AT = 1 << 20  # bytes queued unread before the socket stops being read
DEFAULT_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]
PUSH = "parley.push"  # the response extension that switches a body to push delivery


class BodySink(Protocol):
    def body(self, chunk: bytes) -> None: ...

    def end(self, error: Exception | None) -> None:
        """The body is complete (None), or the connection failed first."""
        ...


class Connection(asyncio.Protocol):
    """One socket; a response's body is queued here as bytes until the reader takes it."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = ResponseParser()
        self.queued: collections.deque[bytes] = collections.deque()
        self.queued_bytes = 0
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.sink: BodySink | None = None  # set when the body is pushed instead of queued
        self.lost: Exception | None = None
        self.read_timeout: float | None = None
        self.in_pool = False
        self.released = False
        self.idle_since = 0.0

    def start(self, *, head_request: bool, read_timeout: float | None) -> None:
        """Make ready for a new response."""
        self.parser = ResponseParser(head_request=head_request)
        self.read_timeout = read_timeout
        self.sink = None
        self.in_pool = self.released = False

    def park(self, now: float) -> None:
        self.in_pool = True
        self.idle_since = now

    @property
    def usable(self) -> bool:
        return self.lost is None and self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.in_pool:
            self.lost = httpx.RemoteProtocolError("bytes arrived on an idle connection")
            self.abort()
            return
        try:
            body = self.parser.feed(data)
        except ValueError as exc:
            self.lost = httpx.RemoteProtocolError(str(exc))
            self.abort()
        else:
            if body and self.sink is not None:
                self.sink.body(body)
            elif body:
                self.queued.append(body)
                self.queued_bytes += len(body)
                if self.queued_bytes > PAUSE_AT and not self.paused:
                    self.paused = True
                    self.transport.pause_reading()  # type: ignore[union-attr]
        self.wake()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.parser.close()
        if self.lost is None:
            self.lost = httpx.ReadError(str(exc)) if exc else httpx.RemoteProtocolError("server closed the connection")
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        sink = self.sink
        if sink is not None and (self.parser.complete or self.lost is not None):
            self.sink = None
            sink.end(None if self.parser.complete else self.lost)

    async def wait(self) -> None:
        """Until more bytes, the end of the response, or the end of the connection."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            if self.read_timeout is None:
                await self.waiter
            else:
                async with asyncio.timeout(self.read_timeout):
                    await self.waiter
        except TimeoutError:
            raise httpx.ReadTimeout("no data from the server in time") from None
        finally:
            self.waiter = None

    def take(self) -> bytes:
        body = self.queued.popleft() if len(self.queued) == 1 else b"".join(self.queued)
        self.queued.clear()
        self.queued_bytes = 0
        if self.paused:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        return body

    async def head(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        while self.parser.status is None:
            if self.lost is not None:
                raise self.lost
            await self.wait()
        return self.parser.status, self.parser.headers, self.parser.reason

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class ResponseStream(httpx.AsyncByteStream):
    """The body as it arrives; closing it early closes the connection, reading it all frees it."""

    def __init__(self, connection: Connection, pool: Pool) -> None:
        self.connection = connection
        self.pool = pool

    async def __aiter__(self):  # type: ignore[override]
        connection = self.connection
        parser = connection.parser
        while True:
            if connection.queued:
                yield connection.take()
            elif parser.complete:
                return
            elif connection.lost is not None:
                raise connection.lost
            else:
                await connection.wait()

    def push(self, sink: BodySink) -> None:
        """Deliver the rest of the body to `sink` as it arrives (see the module docstring)."""
        connection = self.connection
        if connection.queued:
            sink.body(connection.take())
        connection.sink = sink
        connection.wake()  # ends the sink at once if the body is already complete or lost

    async def aclose(self) -> None:
        self.connection.sink = None
        self.pool.release(self.connection)


class Pool:
    """Open connections per origin, bounded in total; requests past the bound wait in order."""

    def __init__(self, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        self.limits = limits
        self.ssl_context = ssl_context
        self.idle: dict[Origin, list[Connection]] = collections.defaultdict(list)
        self.in_use = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def open_count(self) -> int:
        return self.in_use + sum(len(connections) for connections in self.idle.values())

    async def acquire(self, origin: Origin, timeouts: dict[str, float | None]) -> tuple[Connection, bool]:
        """A connection for `origin`, and whether it was reused (and so may have gone stale)."""
        await self._take_slot(timeouts.get("pool"))
        connection = self._take_idle(origin)
        if connection is not None:
            return connection, True
        try:
            return await self._connect(origin, timeouts.get("connect")), False
        except BaseException:
            self._free_slot()
            raise

    def release(self, connection: Connection) -> None:
        """Return a connection whose response was read to the end; close any other. Idempotent."""
        if connection.released:
            return
        connection.released = True
        keep = connection.usable and connection.parser.reusable and not connection.queued
        if keep and self.limits.max_keepalive_connections != 0:
            connection.park(asyncio.get_running_loop().time())
            self.idle[connection.origin].append(connection)
            self._trim_idle()
        else:
            connection.abort()
        self._free_slot()

    def close(self) -> None:
        for connections in self.idle.values():
            for connection in connections:
                connection.abort()
        self.idle.clear()

    async def _take_slot(self, timeout: float | None) -> None:
        """Count this request in, waiting in line while `max_connections` are busy."""
        limit = self.limits.max_connections
        if limit is None or (self.in_use < limit and not self.waiters):
            self.in_use += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter  # a releasing request hands its slot over: in_use already counts us
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._free_slot()  # handed a slot we can no longer use: pass it on
            else:
                self.waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("no connection became free in time") from None
            raise

    def _free_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_use -= 1

    def _take_idle(self, origin: Origin) -> Connection | None:
        connections = self.idle.get(origin)
        expiry = self.limits.keepalive_expiry
        now = asyncio.get_running_loop().time()
        while connections:
            connection = connections.pop()
            if connection.usable and (expiry is None or now - connection.idle_since < expiry):
                return connection
            connection.abort()
        limit = self.limits.max_connections
        if limit is not None and self.open_count > limit:
            self._close_oldest_idle()  # make room: an idle socket elsewhere is worth less than this request
        return None

    def _trim_idle(self) -> None:
        limit = self.limits.max_keepalive_connections
        while limit is not None and sum(len(connections) for connections in self.idle.values()) > limit:
            self._close_oldest_idle()

    def _close_oldest_idle(self) -> None:
        oldest = min((c for connections in self.idle.values() for c in connections), key=lambda c: c.idle_since)
        self.idle[oldest.origin].remove(oldest)
        oldest.abort()

    async def _connect(self, origin: Origin, timeout: float | None) -> Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self.ssl_context if scheme == b"https" else None
        hostname = host.decode("ascii")
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: Connection(origin), hostname, port, ssl=tls, server_hostname=hostname if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {hostname}:{port} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc)) from exc
        return connection


class StreamingTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over `Pool`; the body streams until the caller closes the response."""

    def __init__(self, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        self.pool = Pool(limits, ssl_context)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.raw_scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin = (url.raw_scheme, url.raw_host, url.port or DEFAULT_PORTS[url.raw_scheme])
        message = _request_bytes(request, await request.aread())
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        while True:
            connection, reused = await self.pool.acquire(origin, timeouts)
            connection.start(head_request=request.method == "HEAD", read_timeout=timeouts.get("read"))
            try:
                connection.transport.write(message)  # type: ignore[union-attr]
                status, headers, reason = await connection.head()
            except BaseException as exc:
                connection.abort()
                self.pool.release(connection)
                if reused and isinstance(exc, httpx.TransportError) and not connection.parser.started:
                    continue  # the server closed an idle connection just as we used it: try a fresh one
                raise
            stream = ResponseStream(connection, self.pool)
            return httpx.Response(
                status,
                headers=headers,
                stream=stream,
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason, PUSH: stream.push},
            )

    async def aclose(self) -> None:
        self.pool.close()


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """The request head and body as one write; the body is always sent with its length."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if name.lower() not in (b"content-length", b"transfer-encoding"):
            lines.append(name + b": " + value)
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
