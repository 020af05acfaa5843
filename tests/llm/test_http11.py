"""The response parser behind the LLM transport: every framing, split at every byte."""

from __future__ import annotations

import pytest

from conversations.llm.http11 import ResponseParser

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n"
    b"7;ext=1\r\n, world\r\n"
    b"1\r\n\xc3\r\n1\r\n\xa9\r\n"
    b"0\r\nX-Trailer: yes\r\n\r\n"
)


def parse(raw: bytes, size: int, **kwargs) -> tuple[ResponseParser, bytes]:
    parser = ResponseParser(**kwargs)
    body = b"".join(parser.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    return parser, body


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_chunked_body_is_the_same_however_the_bytes_are_split(size: int) -> None:
    parser, body = parse(CHUNKED, size)
    assert (parser.status, parser.reason) == (200, b"OK")
    assert (b"Content-Type", b"text/event-stream") in parser.headers
    assert body == b"hello, world\xc3\xa9"
    assert parser.complete and parser.reusable


@pytest.mark.parametrize("size", [1, 5, 10_000])
def test_content_length_body_ends_at_its_length(size: int) -> None:
    parser, body = parse(b"HTTP/1.1 429 Too Many\r\nContent-Length: 4\r\nRetry-After: 2\r\n\r\n{ok}", size)
    assert (parser.status, body, parser.complete, parser.reusable) == (429, b"{ok}", True, True)


def test_body_without_length_runs_until_close_and_is_never_reused() -> None:
    parser, body = parse(b"HTTP/1.1 200 OK\r\n\r\nabc", 2)
    assert (body, parser.complete) == (b"abc", False)
    parser.close()
    assert parser.complete and not parser.reusable


def test_connection_close_and_http10_are_not_reused() -> None:
    closing, _ = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 100)
    old, _ = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 100)
    kept, _ = parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 100)
    assert (closing.reusable, old.reusable, kept.reusable) == (False, False, True)


def test_interim_heads_are_skipped() -> None:
    parser, body = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 3)
    assert (parser.status, body) == (200, b"hi")


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_and_head_requests_complete_with_the_head(status: int) -> None:
    parser, _ = parse(b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status, 100)
    head, _ = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 100, head_request=True)
    assert parser.complete and head.complete


def test_bytes_after_the_body_make_the_connection_unusable() -> None:
    parser, body = parse(CHUNKED + b"HTTP/1.1 200", 100)
    assert body == b"hello, world\xc3\xa9" and parser.complete and not parser.reusable


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000,
    ],
    ids=["version", "status", "header", "two-lengths", "negative-length", "chunk-size", "chunk-overrun", "huge-head"],
)
def test_malformed_responses_raise_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse(raw, 1 if len(raw) < 1000 else 1000)
