"""The byte-level SSE parser and NDJSON splitter, without servers."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from conversations.llm.streaming import NDJSONSplitter, SSEEvent, SSEParser

STREAM = (
    b": keep-alive\r\n\r\n"
    b'event: message_start\r\ndata: {"a": "h\xc3\xa9llo \xf0\x9f\x91\x8b"}\r\n\r\n'
    b"data:no-space\n\n"
    b"data: line one\ndata: line two\n\n"
    b"id: 7\rdata: cr only\r\r"
    b": comment between\n"
    b"event: ping\ndata: {}\n\n"
)
EXPECTED = [
    SSEEvent('{"a": "héllo 👋"}', "message_start"),
    SSEEvent("no-space"),
    SSEEvent("line one\nline two"),
    SSEEvent("cr only"),
    SSEEvent("{}", "ping"),
]


def parse_in_pieces(pieces: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events = [event for piece in pieces for event in parser.feed(piece)]
    return events + parser.close()


def test_whole_stream_parses_every_kind_of_line() -> None:
    assert parse_in_pieces([STREAM]) == EXPECTED


def test_one_byte_at_a_time_gives_the_same_events() -> None:
    assert parse_in_pieces([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_one_whole_event_per_read_takes_the_fast_path_to_the_same_events() -> None:
    blocks = STREAM.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n\n")[:-1]
    pieces = [block + b"\n\n" for block in blocks]
    assert parse_in_pieces(pieces) == EXPECTED
    assert parse_in_pieces([b"data: x\n\n", b"data: two\n\ndata: in one read\n\n"]) == [
        SSEEvent("x"),
        SSEEvent("two"),
        SSEEvent("in one read"),
    ]


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    assert parse_in_pieces([STREAM[a:b] for a, b in itertools.pairwise(points)]) == EXPECTED


@given(st.lists(st.text(min_size=1).filter(lambda s: "\n" not in s and "\r" not in s), max_size=8), st.data())
def test_arbitrary_unicode_survives_arbitrary_splits(texts: list[str], data: st.DataObject) -> None:
    stream = b"".join(b"data: " + t.encode() + b"\r\n\r\n" for t in texts)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    points = [0, *sorted(cuts), len(stream)]
    events = parse_in_pieces([stream[a:b] for a, b in itertools.pairwise(points)])
    # A leading space is part of the value only after the one separating space.
    assert [e.data for e in events] == texts


def test_comment_only_blocks_and_unterminated_events_are_not_dispatched() -> None:
    parser = SSEParser()
    assert parser.feed(b": ping\n\n:\n\nevent: x\n\ndata: cut") == []
    assert parser.close() == []


def test_byte_order_mark_is_ignored_even_when_split() -> None:
    assert parse_in_pieces([b"\xef", b"\xbb\xbfdata: x\n\n"]) == [SSEEvent("x")]


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    assert parse_in_pieces([b"data: a\r", b"\n\r", b"\n"]) == [SSEEvent("a")]


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=10))
def test_ndjson_lines_survive_any_split(cuts: list[int]) -> None:
    stream = b'{"a":"\xc3\xa9"}\n\n{"b":2}\r\n{"c":3}'
    points = [0, *sorted(c for c in cuts if c <= len(stream)), len(stream)]
    splitter = NDJSONSplitter()
    lines = [line for a, b in itertools.pairwise(points) for line in splitter.feed(stream[a:b])]
    assert lines + splitter.close() == [b'{"a":"\xc3\xa9"}', b'{"b":2}', b'{"c":3}']
