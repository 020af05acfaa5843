"""Minimal HTTP/1.1 request reading for the simulator: head, Content-Length body, keep-alive."""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEAD = 64 * 1024


class BadRequest(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


def take_request(buffer: bytearray) -> Request | None:
    """Remove and return one complete request from the buffer, or None if more bytes are needed."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise BadRequest("request head too large")
        return None
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise BadRequest(f"bad request line {lines[0]!r}") from exc
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest("chunked request bodies are not supported")
    length = int(headers.get("content-length") or 0)
    if len(buffer) < end + 4 + length:
        return None
    body = bytes(buffer[end + 4 : end + 4 + length])
    del buffer[: end + 4 + length]
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, target.split("?", 1)[0], headers, body, keep_alive)
