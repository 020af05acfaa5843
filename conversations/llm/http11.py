"""Incremental parsing of one HTTP/1.1 response: the head, then the body as plain bytes.

Bytes go in exactly as the socket delivers them, split anywhere; body bytes come out with the
framing removed (Content-Length, chunked, or read-until-close). The common streamed case, one
whole chunk per read, costs a find, an int() and a slice.
"""

from __future__ import annotations

import re

MAX_HEAD = 64 * 1024  # a response head larger than this is refused
MAX_LINE = 4096  # the longest chunk-size or trailer line accepted
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")

SIZE, DATA, DATA_END, TRAILER = range(4)  # chunked-body states


class ResponseParser:
    """Feed bytes, get body bytes; `status` is set once the head is in, `complete` at the body's end."""

    def __init__(self, *, head_request: bool = False) -> None:
        self.head_request = head_request
        self.status: int | None = None
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self.keep_alive = False
        self.started = False  # any byte of this response arrived
        self._buffer = bytearray()
        self._chunked = False
        self._until_close = False
        self._remaining = 0
        self._state = SIZE

    @property
    def reusable(self) -> bool:
        """The connection may carry another request: the whole body was read and nothing followed it."""
        return self.complete and self.keep_alive and not self._buffer

    def feed(self, data: bytes) -> bytes:
        """Add bytes from the socket; return the body bytes they complete. Raises ValueError on bad framing."""
        self.started = True
        if self.status is None:
            data = self._feed_head(data)
            if not data:
                return b""
        if self.complete:
            self._buffer += data  # bytes after the response: the connection can't be reused
            return b""
        if self._until_close:
            return data
        if self._chunked:
            return self._dechunk(data)
        body = data[: self._remaining]
        self._remaining -= len(body)
        if not self._remaining:
            self.complete = True
            self._buffer += data[len(body) :]
        return body

    def close(self) -> None:
        """The connection ended: that completes a body read until close, and nothing else."""
        if self._until_close:
            self.complete = True

    def _feed_head(self, data: bytes) -> bytes:
        """Buffer until the blank line; parse the head (skipping 1xx heads); return what follows it."""
        buffer = self._buffer
        scan_from = max(len(buffer) - 3, 0)  # the blank line may straddle the previous read
        buffer += data
        while self.status is None:
            end = buffer.find(b"\r\n\r\n", scan_from)
            scan_from = 0
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise ValueError("the response head is too large")
                return b""
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            self._parse_head(head)
        rest = bytes(buffer)
        buffer.clear()
        return rest

    def _parse_head(self, head: bytes) -> None:
        status_line, *lines = head.split(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        code, _, reason = rest.partition(b" ")
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise ValueError(f"malformed status line {status_line[:80]!r}")
        headers = []
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or not name or name.strip() != name:
                raise ValueError(f"malformed header line {line[:80]!r}")
            headers.append((name, value.strip()))
        status = int(code)
        if 100 <= status < 200:
            return  # an interim response (100 Continue, 103 Early Hints): the real head follows
        self.status, self.reason, self.headers = status, reason, headers
        self._choose_framing(version, {name.lower(): value.lower() for name, value in headers}, headers)

    def _choose_framing(self, version: bytes, fields: dict[bytes, bytes], headers: list[tuple[bytes, bytes]]) -> None:
        connection = {token.strip() for token in fields.get(b"connection", b"").split(b",")}
        self.keep_alive = b"close" not in connection if version == b"HTTP/1.1" else b"keep-alive" in connection
        if self.head_request or self.status in (204, 304):
            self.complete = True
        elif b"chunked" in fields.get(b"transfer-encoding", b""):
            self._chunked = True
        elif b"content-length" in fields:
            lengths = {value for name, value in headers if name.lower() == b"content-length"}
            if len(lengths) != 1 or not fields[b"content-length"].isdigit():
                raise ValueError("invalid Content-Length")
            self._remaining = int(fields[b"content-length"])
            self.complete = self._remaining == 0
        else:
            self._until_close = True
            self.keep_alive = False

    def _dechunk(self, data: bytes) -> bytes:
        buffer = self._buffer
        if buffer:
            buffer += data
            data = bytes(buffer)
            buffer.clear()
        body: list[bytes] = []
        position = 0
        end = len(data)
        state = self._state
        while position < end:
            if state == DATA:
                taken = data[position : position + self._remaining]
                body.append(taken)
                position += len(taken)
                self._remaining -= len(taken)
                if self._remaining:
                    break
                state = DATA_END
            elif state == DATA_END:
                if end - position < 2:
                    break
                if data[position : position + 2] != b"\r\n":
                    raise ValueError("a chunk is longer than its declared size")
                position += 2
                state = SIZE
            else:
                line_end = data.find(b"\r\n", position)
                if line_end < 0:
                    if end - position > MAX_LINE:
                        raise ValueError("a chunk-size or trailer line is too long")
                    break
                line = data[position:line_end]
                position = line_end + 2
                if state == TRAILER:
                    if not line:
                        self.complete = True
                        break
                    continue
                size = line.split(b";", 1)[0].strip()
                if not _HEX.fullmatch(size):
                    raise ValueError(f"malformed chunk size {line[:40]!r}")
                self._remaining = int(size, 16)
                state = DATA if self._remaining else TRAILER
        self._state = state
        if position < end:
            buffer += data[position:]  # a partial framing line, or bytes after the last chunk
        if len(body) == 1:
            return body[0]
        return b"".join(body)
