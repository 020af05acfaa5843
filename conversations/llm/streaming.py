"""The one streaming flow every HTTP provider shares: send, check status, retry, parse, map errors.

Retries (429, 5xx, connection failures) happen only before any text arrived, so a reply is never
duplicated. Every error raised after text arrived carries that text as `partial`. The response is
closed in a `finally`, so cancelling the consuming task releases the connection at once.

The body is parsed here too, by the one byte-level parser (SSE events, or NDJSON lines), at the
end of this module. It takes raw bytes exactly as they arrive from the socket, so an event may be
split at any byte (even inside a multi-byte UTF-8 character). Text is decoded once per complete
event, never per line or per chunk, which keeps the hot path to a few bytes operations per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import ClassVar

import httpx

from .base import ChatMessage, Event, Finish, Options, StreamingCalls
from .client import get_http_client, send_streaming
from .config import ProviderConfig
from .errors import LLMError, StreamInterrupted, UpstreamConnectError, UpstreamTimeout
from .fast_connection import BodySink
from .formats.base import EventReader, HTTPRequest, WireFormat
from .http_errors import error_for_status, is_retryable_status, retry_after_seconds
from .transport import PUSH
from .watchdog import Clock, Watchdog

logger = logging.getLogger(__name__)

REST_WAIT = 0.25  # seconds a server has to end the body after the reply's last event
_BOM = b"\xef\xbb\xbf"


class StreamingProvider:
    """Base of the HTTP providers; a vendor module sets the class attributes and nothing else."""

    name: ClassVar[str]
    wire: ClassVar[WireFormat]
    default_base_url: ClassVar[str]
    default_model: ClassVar[str]

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    async def base_url(self) -> str:
        """The API root; overridden by the simulator, which may first start its own server."""
        return self.config.base_url or self.default_base_url

    async def stream(self, messages: Sequence[ChatMessage], options: Options) -> AsyncIterator[Event]:
        response = await self._open(messages, options)
        parts: list[str] = []
        try:
            with _partial_on_failure(parts):
                events = _read_events(response, self._feed(options, parts.append), parts)
                async with aclosing(events):
                    async for event in events:
                        yield event
        finally:
            await asyncio.shield(response.aclose())  # a second stop must not interrupt the release

    async def stream_to(
        self,
        messages: Sequence[ChatMessage],
        options: Options,
        on_text: Callable[[str], None],
        on_tool_calls: Callable[[StreamingCalls], None] | None = None,
    ) -> Finish:
        """`stream`, with each text delta handed to `on_text` as it is parsed; returns the Finish.

        No generator sits between the body and the parser. With the fast transport the body is
        pushed (transport.py): the socket's callback parses it and calls `on_text`, and no task
        wakes per delta.
        """
        response = await self._open(messages, options)
        parts: list[str] = []

        def deliver(text: str) -> None:
            parts.append(text)
            on_text(text)

        try:
            with _partial_on_failure(parts):
                feed = self._feed(options, deliver)
                feed.reader.tools.on_change = on_tool_calls
                push = response.extensions.get(PUSH)
                return await (_pushed(push, feed) if push is not None else _read_into(response, feed))
        finally:
            await asyncio.shield(response.aclose())

    async def _open(self, messages: Sequence[ChatMessage], options: Options) -> httpx.Response:
        request = self.wire.build_request(await self.base_url(), self.config.api_key, messages, options)
        if self.config.headers:
            request = HTTPRequest(request.url, {**request.headers, **dict(self.config.headers)}, request.body)
        return await self._open_with_retries(request)

    def _feed(self, options: Options, on_text: Callable[[str], None]) -> EventFeed:
        limits = self.config.limits
        reader = self.wire.reader(options)
        return EventFeed(reader, self.wire.framing, on_text, limits.first_byte_timeout, limits.idle_timeout)

    async def _open_with_retries(self, request: HTTPRequest) -> httpx.Response:
        """Send until a 2xx response's headers arrive; back off on 429, 5xx and connection failures."""
        config = self.config
        attempts = max(config.max_attempts, 1)
        for attempt in range(1, attempts + 1):
            outcome, retry_after = await self._try_open(request)
            if isinstance(outcome, httpx.Response):
                return outcome
            if attempt == attempts or not _is_retryable(outcome):
                raise outcome
            delay = retry_after if retry_after is not None else config.retry_base_delay * 2 ** (attempt - 1)
            delay = min(delay, config.retry_max_delay)
            logger.info("%s: attempt %d failed (%s); retrying in %.2fs", self.name, attempt, outcome.detail, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _try_open(self, request: HTTPRequest) -> tuple[httpx.Response | LLMError, float | None]:
        """One attempt: the open response, or a typed error with the server's Retry-After."""
        limits = self.config.limits
        client = get_http_client(limits, self.config.network)
        outgoing = client.build_request("POST", request.url, headers=request.headers, json=request.body)
        try:
            async with asyncio.timeout(limits.first_byte_timeout):
                response = await send_streaming(client, outgoing, limits.first_byte_timeout + limits.connect_timeout)
                if response.is_success:
                    return response, None
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
        except httpx.ConnectTimeout:
            return UpstreamTimeout(f"connecting to {request.url} timed out"), None
        except (httpx.ConnectError, httpx.ProxyError) as exc:
            return UpstreamConnectError(f"cannot connect to {request.url}: {exc}"), None
        except TimeoutError:
            raise UpstreamTimeout(f"no response from {request.url} in time") from None
        except httpx.TransportError as exc:
            raise StreamInterrupted(f"connection broke before the response: {exc!r}") from exc
        return error_for_status(response.status_code, body), retry_after_seconds(response.headers.get("retry-after"))


def _is_retryable(error: LLMError) -> bool:
    """Connection failures and 429/5xx; by construction these all happen before any text."""
    if isinstance(error, UpstreamConnectError | UpstreamTimeout):
        return True
    return error.status is not None and is_retryable_status(error.status)


@contextlib.contextmanager
def _partial_on_failure(parts: list[str]) -> Iterator[None]:
    """Every failure becomes an LLMError carrying the text that arrived before it."""
    try:
        yield
    except LLMError as exc:
        exc.partial = exc.partial or "".join(parts)
        raise
    except TimeoutError as exc:
        raise UpstreamTimeout("the server stopped sending data", partial="".join(parts)) from exc
    except httpx.TransportError as exc:
        raise StreamInterrupted(f"connection broke: {exc!r}", partial="".join(parts)) from exc


class EventFeed:
    """Body bytes in; text deltas out through `on_text`, and the Finish returned at the end.

    The parsing half of reading a stream, the same whether the body is iterated or pushed. Its
    watchdog belongs to the task that reads: the deadline starts at the first-byte bound and
    moves on only when a whole event completes, so a server dripping single bytes is caught by
    the idle bound, unlike httpx's per-read timeout.
    """

    def __init__(
        self,
        reader: EventReader,
        framing: str,
        on_text: Callable[[str], None],
        first_byte: float,
        idle: float,
        clock: Clock | None = None,
    ) -> None:
        self.reader = reader
        self.sse = framing == "sse"
        self.parser = SSEParser() if self.sse else NDJSONSplitter()
        self.on_text = on_text
        self.first_byte = first_byte
        self.idle = idle
        self.clock = clock
        self.watchdog: Watchdog | None = None

    def watch(self) -> Watchdog:
        """Start the deadline for the current task, which is the one a timeout cancels."""
        self.watchdog = Watchdog(self.first_byte, self.clock)
        return self.watchdog

    def feed(self, chunk: bytes | None) -> Finish | None:
        """Parse a chunk (None at the end of the body); the Finish once the reply is complete."""
        reader = self.reader
        events = self.parser.feed(chunk) if chunk is not None else self.parser.close()
        if events:
            self.watchdog.move(self.idle)  # type: ignore[union-attr]
        for event in events:
            text = reader.read(event.event, event.data) if self.sse else reader.read(None, event)
            if text:
                self.on_text(text)
            if reader.finish is not None:
                return reader.finish
        if chunk is not None:
            return None
        finish = reader.end()
        if finish is None:
            raise StreamInterrupted("the stream ended before the reply was complete")
        return finish


async def _read_events(response: httpx.Response, feed: EventFeed, parts: list[str]) -> AsyncIterator[str | Finish]:
    """Iterate the body: yield each text delta as `feed` adds it to `parts`, then the Finish."""
    watchdog = feed.watch()
    async with aclosing(response.aiter_bytes()) as body:
        try:
            while True:
                try:
                    chunk = await anext(body, None)
                except asyncio.CancelledError:
                    watchdog.raise_if_fired()
                    raise
                watchdog.raise_if_fired()
                seen = len(parts)
                finish = feed.feed(chunk)
                for text in parts[seen:]:
                    yield text
                if finish is not None:
                    await _read_rest(body, chunk)
                    yield finish
                    return
        finally:
            watchdog.close()


async def _read_into(response: httpx.Response, feed: EventFeed) -> Finish:
    """Read the body into `feed` until it returns the Finish: `_read_events` without a generator."""
    watchdog = feed.watch()
    async with aclosing(response.aiter_bytes()) as body:
        try:
            while True:
                try:
                    chunk = await anext(body, None)
                except asyncio.CancelledError:
                    watchdog.raise_if_fired()
                    raise
                watchdog.raise_if_fired()
                finish = feed.feed(chunk)
                if finish is not None:
                    await _read_rest(body, chunk)
                    return finish
        finally:
            watchdog.close()


async def _read_rest(body: AsyncIterator[bytes], last: bytes | None) -> None:
    """Read what follows the last event, the end of the body, so that httpx keeps the connection.

    A server ends the body right after its last event; one that does not within `REST_WAIT`
    loses the connection instead of holding the reply.
    """
    if last is None:
        return
    with contextlib.suppress(TimeoutError, httpx.TransportError):
        async with asyncio.timeout(REST_WAIT):
            async for _ in body:
                pass


async def _pushed(push: Callable[[BodySink], None], feed: EventFeed) -> Finish:
    """Have the transport push the body into `feed` from its socket callback; wait for the end."""
    sink = _FeedSink(feed)
    watchdog = feed.watch()
    push(sink)
    try:
        return await sink.done
    except asyncio.CancelledError:
        watchdog.raise_if_fired()
        raise
    finally:
        watchdog.close()


class _FeedSink:
    """A `BodySink` (transport.py) that parses each chunk at once; `done` holds the outcome."""

    def __init__(self, feed: EventFeed) -> None:
        self.feed = feed
        self.done: asyncio.Future[Finish] = asyncio.get_running_loop().create_future()

    def body(self, chunk: bytes) -> None:
        self._take(chunk)

    def end(self, error: Exception | None) -> None:
        if error is None:
            self._take(None)
        elif not self.done.done():
            self.done.set_exception(error)

    def _take(self, chunk: bytes | None) -> None:
        if self.done.done():
            return
        try:
            finish = self.feed.feed(chunk)
        except Exception as exc:  # raised in the socket's callback, so handed to the waiting task
            self.done.set_exception(exc)
            return
        if finish is not None:
            self.done.set_result(finish)


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event; `event` is None when the server sent no `event:` field."""

    data: str
    event: str | None = None


class SSEParser:
    """Incremental Server-Sent Events parser (WHATWG rules; `id:` and `retry:` are ignored).

    Line endings are normalised to b"\\n" in bytes as they arrive; a trailing b"\\r" is held
    back until the next byte shows whether it starts a b"\\r\\n" pair.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan_from = 0
        self._held_cr = False
        self._started = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete (often empty)."""
        if self._started and not self._buffer and not self._held_cr and _one_whole_event(chunk):
            event = parse_event_block(chunk[:-2])  # the usual streamed read: no buffering needed
            return [event] if event is not None else []
        if self._held_cr:
            chunk = b"\r" + chunk
            self._held_cr = False
        if chunk.endswith(b"\r"):
            self._held_cr = True
            chunk = chunk[:-1]
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._buffer += chunk
        if not self._started:
            if len(self._buffer) < len(_BOM) and _BOM.startswith(self._buffer):
                return []
            if self._buffer.startswith(_BOM):
                del self._buffer[: len(_BOM)]
            self._started = True
        return self._drain()

    def close(self) -> list[SSEEvent]:
        """End of stream: a held b"\\r" counts as a line end; an unterminated event is dropped, as the spec says."""
        if self._held_cr:
            self._held_cr = False
            self._buffer += b"\n"
            return self._drain()
        return []

    def _drain(self) -> list[SSEEvent]:
        buffer = self._buffer
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", max(start, self._scan_from))
            if end < 0:
                break
            event = parse_event_block(bytes(buffer[start:end]))
            if event is not None:
                events.append(event)
            start = end + 2
            self._scan_from = start
        if start:
            del buffer[:start]
        # Resume the search just before the end: the last byte may be the first half of b"\n\n".
        self._scan_from = max(len(buffer) - 1, 0)
        return events


def _one_whole_event(chunk: bytes) -> bool:
    """Exactly one event ending with its blank line, with no CR to normalise."""
    return chunk.endswith(b"\n\n") and chunk.find(b"\n\n") == len(chunk) - 2 and b"\r" not in chunk


def parse_event_block(block: bytes) -> SSEEvent | None:
    """Turn the lines of one event (without the blank line) into an event, or None if it has no data."""
    if block.startswith(b"data: ") and b"\n" not in block:  # one data line, the common case
        return SSEEvent(block[6:].decode("utf-8", errors="replace"))
    data: list[bytes] = []
    name: bytes | None = None
    for line in block.split(b"\n"):
        if not line or line[0] == 0x3A:  # blank, or a ":" comment / keep-alive
            continue
        field, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value
    if not data:
        return None
    text = (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", errors="replace")
    return SSEEvent(text, name.decode("utf-8", errors="replace") if name else None)


class NDJSONSplitter:
    """Incremental newline-delimited JSON splitter (Ollama): bytes in, complete non-blank lines out."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        end = self._buffer.rfind(b"\n")
        if end < 0:
            return []
        complete = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return [line for line in (raw.strip() for raw in complete.split(b"\n")) if line]

    def close(self) -> list[bytes]:
        """End of stream: a last line without its newline still counts."""
        line = bytes(self._buffer).strip()
        self._buffer.clear()
        return [line] if line else []
