"""The one byte-level parser for streamed responses: SSE events and NDJSON lines.

Both parsers take raw bytes exactly as they arrive from the socket, so an event may be split at
any byte (even inside a multi-byte UTF-8 character). Text is decoded once per complete event,
never per line or per chunk, which keeps the hot path to a few bytes operations per event.
"""

from __future__ import annotations

from dataclasses import dataclass

_BOM = b"\xef\xbb\xbf"


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
