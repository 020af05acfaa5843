"""The optional fast HTTP/1.1 transport for httpx (LLM_FAST_TRANSPORT=1), parsing with llhttp.

httpx's own transport passes every body chunk through httpcore's pool, connection and stream
layers and h11's event machinery, and a streamed reply arrives as one small chunk per token
(docs/performance.md has the cost). This transport keeps httpx's client, request and response
objects and replaces only the wire: one `asyncio.Protocol` per connection, fed to httptools'
response parser (llhttp, the parser of Node.js), and a keep-alive pool bounded by `httpx.Limits`.
It speaks HTTP/1.1 over TCP or TLS, directly or through an HTTP proxy (CONNECT for https).

A response's body can also be pushed: `response.extensions["parley.push"](sink)` hands every
body chunk to `sink.body()` from the parser's callback, and the end to `sink.end()`. A reader
that parses synchronously then wakes no task per chunk.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import ssl
from typing import Any, Protocol

import httptools
import httpx

from .network import ProxyChoice

PAUSE_AT = 1 << 20  # bytes queued unread before the socket stops being read
DEFAULT_PORTS = {b"http": 80, b"https": 443}
PUSH = "parley.push"  # the response extension that switches a body to push delivery

Origin = tuple[bytes, bytes, int, str]  # scheme, host, port, proxy URL ("" when direct)


class BodySink(Protocol):
    def body(self, chunk: bytes) -> None: ...

    def end(self, error: Exception | None) -> None:
        """The body is complete (None), or the connection failed first."""
        ...


class Connection(asyncio.Protocol):
    """One socket; a response's body is queued here (or pushed to a sink) as llhttp delivers it."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.queued: collections.deque[bytes] = collections.deque()
        self.queued_bytes = 0
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.lost: Exception | None = None
        self.in_pool = False
        self.idle_since = 0.0
        self.start(head_request=False, read_timeout=None)

    def start(self, *, head_request: bool, read_timeout: float | None) -> None:
        """Make ready for a new response."""
        self.parser = httptools.HttpResponseParser(self)
        self.head_request = head_request
        self.read_timeout = read_timeout
        self.status: int | None = None
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.started = False  # any byte of this response arrived
        self.complete = False
        self.reusable = False
        self.until_close = False  # the body has no length: it ends when the server closes
        self.sink: BodySink | None = None  # set when the body is pushed instead of queued
        self.released = False

    def park(self, now: float) -> None:
        self.in_pool = True
        self.idle_since = now

    @property
    def usable(self) -> bool:
        return self.lost is None and self.transport is not None and not self.transport.is_closing()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.in_pool or self.complete:
            self.lost = httpx.RemoteProtocolError("bytes arrived outside a response")
            self.reusable = False
            self.abort()
            return
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.lost = httpx.RemoteProtocolError(f"malformed response: {exc}")
            self.abort()
        self.wake()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.until_close and self.lost is None:
            self.complete = True  # the server's close is the end of a body sent without a length
        if self.lost is None:
            self.lost = httpx.ReadError(str(exc)) if exc else httpx.RemoteProtocolError("server closed the connection")
        self.wake()

    # httptools callbacks

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.head_request:
            self.complete = True  # no body follows; llhttp cannot be told, so the connection is not reused
            return
        framed = {name.lower() for name, _ in self.headers} & {b"content-length", b"transfer-encoding"}
        self.until_close = not framed and self.status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.body(body)
            return
        self.queued.append(body)
        self.queued_bytes += len(body)
        if self.queued_bytes > PAUSE_AT and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        self.complete = True
        self.reusable = self.parser.should_keep_alive()

    # the reader's side

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        sink = self.sink
        if sink is not None and (self.complete or self.lost is not None):
            self.sink = None
            sink.end(None if self.complete else self.lost)

    async def wait(self) -> None:
        """Until more bytes, the end of the response, or the end of the connection."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
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

    async def head(self) -> int:
        """Wait for the response head; its status code."""
        while self.status is None:
            if self.lost is not None:
                raise self.lost
            await self.wait()
        return self.status

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
        while True:
            if connection.queued:
                yield connection.take()
            elif connection.complete:
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
            async with asyncio.timeout(timeouts.get("connect")):
                return await connect(origin, self.ssl_context), False
        except TimeoutError:
            self._free_slot()
            raise httpx.ConnectTimeout(f"connecting to {origin[1].decode()}:{origin[2]} timed out") from None
        except BaseException:
            self._free_slot()
            raise

    def release(self, connection: Connection) -> None:
        """Return a connection whose response was read to the end; close any other. Idempotent."""
        if connection.released:
            return
        connection.released = True
        keep = connection.usable and connection.complete and connection.reusable and not connection.queued
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
            connection.in_pool = False
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


async def connect(origin: Origin, tls: ssl.SSLContext) -> Connection:
    """Open a connection to `origin`: directly, or through its proxy (a CONNECT tunnel for https)."""
    scheme, host, port, proxy = origin
    hostname = host.decode("ascii")
    secure = scheme == b"https"
    loop = asyncio.get_running_loop()
    try:
        if not proxy:
            _, connection = await loop.create_connection(
                lambda: Connection(origin),
                hostname,
                port,
                ssl=tls if secure else None,
                server_hostname=hostname if secure else None,
            )
            return connection
        proxy_url = httpx.URL(proxy)
        _, connection = await loop.create_connection(lambda: Connection(origin), proxy_url.host, proxy_url.port or 80)
        if secure:
            try:
                await _tunnel(connection, proxy_url, host, port)
                connection.transport = await loop.start_tls(
                    connection.transport, connection, tls, server_hostname=hostname
                )  # type: ignore[assignment,arg-type]
            except BaseException:
                connection.abort()
                raise
        return connection
    except (OSError, ssl.SSLError) as exc:
        raise httpx.ConnectError(str(exc) or repr(exc)) from exc


async def _tunnel(connection: Connection, proxy: httpx.URL, host: bytes, port: int) -> None:
    """Ask the proxy for a tunnel to host:port; its answer is parsed like any response head."""
    authority = b"%s:%d" % (host, port)
    lines = [b"CONNECT %s HTTP/1.1" % authority, b"Host: " + authority, *_proxy_auth(proxy)]
    connection.start(head_request=True, read_timeout=None)
    connection.transport.write(b"\r\n".join(lines) + b"\r\n\r\n")  # type: ignore[union-attr]
    status = await connection.head()
    if not 200 <= status < 300:
        raise httpx.ProxyError(f"the proxy refused the tunnel: {status} {connection.reason.decode('latin-1')}")
    connection.start(head_request=False, read_timeout=None)


def _proxy_auth(proxy: httpx.URL) -> list[bytes]:
    if not proxy.userinfo:
        return []
    return [b"Proxy-Authorization: Basic " + base64.b64encode(proxy.userinfo)]


class FastTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over `Pool`; the body streams until the caller closes the response."""

    def __init__(self, limits: httpx.Limits, ssl_context: ssl.SSLContext, proxies: ProxyChoice) -> None:
        self.pool = Pool(limits, ssl_context)
        self.proxies = proxies

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.raw_scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        proxy = self.proxies.for_url(url)
        origin = (url.raw_scheme, url.raw_host, url.port or DEFAULT_PORTS[url.raw_scheme], str(proxy or ""))
        message = _request_bytes(request, await request.aread(), proxy if url.raw_scheme == b"http" else None)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        while True:
            connection, reused = await self.pool.acquire(origin, timeouts)
            connection.start(head_request=request.method == "HEAD", read_timeout=timeouts.get("read"))
            try:
                connection.transport.write(message)  # type: ignore[union-attr]
                status = await connection.head()
            except BaseException as exc:
                connection.abort()
                self.pool.release(connection)
                if reused and isinstance(exc, httpx.TransportError) and not connection.started:
                    continue  # the server closed an idle connection just as we used it: try a fresh one
                raise
            stream = ResponseStream(connection, self.pool)
            extensions: dict[str, Any] = {"http_version": b"HTTP/1.1", "reason_phrase": connection.reason}
            if not any(name.lower() == b"content-encoding" for name, _ in connection.headers):
                extensions[PUSH] = stream.push  # a compressed body must go through httpx's decoders
            return httpx.Response(status, headers=connection.headers, stream=stream, extensions=extensions)

    async def aclose(self) -> None:
        self.pool.close()


def _request_bytes(request: httpx.Request, body: bytes, proxy: httpx.URL | None) -> bytes:
    """The request head and body as one write; absolute-form target when sent to a proxy."""
    url = request.url
    target = url.raw_path
    if proxy is not None:
        target = str(url.copy_with(fragment=None)).encode("ascii")
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), target)]
    for name, value in request.headers.raw:
        if name.lower() not in (b"content-length", b"transfer-encoding"):
            lines.append(name + b": " + value)
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d" % len(body))
    if proxy is not None:
        lines += _proxy_auth(proxy)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
