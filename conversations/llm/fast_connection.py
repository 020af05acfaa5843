"""One connection of the fast transport: an `asyncio.Protocol` fed to httptools' response parser.

Body bytes are queued for an iterating reader, or pushed to a `BodySink` from the parser's
callback, so a reader that parses synchronously wakes no task per chunk.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Protocol

import httptools
import httpx

if TYPE_CHECKING:
    from .fast_pool import Pool

PAUSE_AT = 1 << 20  # bytes queued unread before the socket stops being read

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
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.headers, self.reason = [], b""  # an interim head (103 Early Hints): the response follows
            return
        self.status = status
        if self.head_request:
            self.complete = True  # no body follows; llhttp cannot be told, so the connection is not reused
            return
        framed = {name.lower() for name, _ in self.headers} & {b"content-length", b"transfer-encoding"}
        self.until_close = not framed and status not in (204, 304)

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
        if self.status is None:
            return  # the end of an interim head
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
