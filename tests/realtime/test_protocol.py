"""Protocol v1 frame validation and building, without a server."""

from __future__ import annotations

import json

import pytest

from conversations import protocol
from conversations.protocol import ProtocolError, parse_client_frame

LIMIT = 1024


def error_of(text: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(text, max_bytes=LIMIT)
    return caught.value


def test_send_frame_is_parsed():
    frame = parse_client_frame('{"type":"message.send","content":"hi","request_id":"r1"}', max_bytes=LIMIT)
    assert (frame.type, frame.content, frame.request_id) == ("message.send", "hi", "r1")


@pytest.mark.parametrize("frame_type", ["generation.stop", "message.regenerate", "sync"])
def test_frames_without_content_are_parsed(frame_type):
    assert parse_client_frame(json.dumps({"type": frame_type}), max_bytes=LIMIT).type == frame_type


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('"a string"', "invalid_json"),
        ("[" * 100_000, "frame_too_large"),
        ('{"type": "message.delete"}', "unknown_type"),
        ('{"content": "no type"}', "unknown_type"),
        ('{"type": 5}', "unknown_type"),
        ('{"type": "message.send", "request_id": "r"}', "invalid_field"),
        ('{"type": "message.send", "content": 5, "request_id": "r"}', "invalid_field"),
        ('{"type": "message.send", "content": "   ", "request_id": "r"}', "invalid_field"),
        ('{"type": "message.send", "content": "hi"}', "invalid_field"),
        ('{"type": "message.send", "content": "hi", "request_id": 7}', "invalid_field"),
        ('{"type": "message.send", "content": "hi", "request_id": ""}', "invalid_field"),
        ('{"type": "message.send", "content": "a\\ud800b", "request_id": "r"}', "invalid_field"),
        ('{"type": "message.send", "content": "hi", "request_id": "\\udfff"}', "invalid_field"),
    ],
)
def test_bad_frames_get_their_own_code(text, code):
    assert error_of(text).code == code


def test_deep_nesting_is_invalid_json_not_a_crash():
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame("[" * 50_000 + "]" * 50_000, max_bytes=200_000)
    assert caught.value.code == "invalid_json"


def test_oversized_frame_counts_bytes_not_characters():
    content = "é" * (LIMIT // 2)  # fewer characters than LIMIT, more bytes
    assert error_of(json.dumps({"type": "message.send", "content": content}, ensure_ascii=False)).code == (
        "frame_too_large"
    )


def test_request_id_is_echoed_on_field_errors():
    assert error_of('{"type": "message.send", "content": 1, "request_id": "abc"}').request_id == "abc"


def test_delta_frame_is_valid_json_for_any_text():
    text = 'quote " backslash \\ newline \n emoji 🎉 control \x01'
    frame = json.loads(protocol.delta_frame("id-1", 3, text))
    assert frame == {"type": "message.delta", "message_id": "id-1", "seq": 3, "delta": text}


def test_error_frame_omits_missing_request_id():
    assert json.loads(protocol.error_frame("busy", "x")) == {"type": "error", "code": "busy", "detail": "x"}
