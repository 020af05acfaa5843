"""Bad input never crashes a socket (LibreChat CVE-2026-31949): every bad frame gets one error frame.

Hypothesis draws a few hundred hostile frames; they are replayed on one open socket, each followed
by a `sync` that must be answered with a snapshot (so exactly one error came back, and the socket
still works). A good `message.send` at the end must still stream a reply to completion.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from conversations.protocol import CLIENT_TYPES, REQUEST_ID_MAX
from tests.wsclient import LiveSocket, login_cookie

EXAMPLES_SETTINGS = hypothesis_settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)  # 40 frames of each kind

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
not_a_type = json_values.filter(lambda value: value not in CLIENT_TYPES)
not_content = json_values.filter(lambda value: not (isinstance(value, str) and value.strip()))
not_request_id = json_values.filter(
    lambda value: value is not None and not (isinstance(value, str) and 1 <= len(value) <= REQUEST_ID_MAX)
)
GOOD_SEND = {"type": "message.send", "content": "hello", "request_id": "r1"}
LONE_SURROGATES = st.sampled_from(["\\ud800", "\\udfff", "a\\udbffb", "\\ud83d", "\\ude00x"])
HUGE_NUMBERS = st.sampled_from(["1e999999", "-1e999999", "NaN", "Infinity", "-Infinity", "1" + "0" * 4000])


def with_field(field: str, value) -> str:
    return json.dumps({**GOOD_SEND, field: value})


def with_raw(field: str, raw: str) -> str:
    """A send frame whose `field` is this raw JSON text (an escape, a literal json.dumps would not write)."""
    return json.dumps({**GOOD_SEND, field: "@"}).replace('"@"', raw)


def frame_of(frame_type: str, request_id) -> str:
    return json.dumps({"type": frame_type, "request_id": request_id})


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


depths = st.integers(1_200, 9_000)
# (strategy drawing the frame to send, the error code it must get)
BAD_FRAMES = [
    (st.text(min_size=1).filter(lambda text: not text.lstrip().startswith("{")), "invalid_json"),
    (st.binary(min_size=1), "invalid_json"),
    (st.tuples(depths, st.sampled_from(["array", "object"])).map(lambda t: nested(*t)), "invalid_json"),
    (depths.map(lambda depth: with_raw("content", nested(depth, "array"))), "invalid_json"),
    (st.integers(4_301, 20_000).map(lambda digits: with_raw("content", "9" * digits)), "invalid_json"),
    (HUGE_NUMBERS.map(lambda number: with_raw("content", number)), "invalid_field"),
    (HUGE_NUMBERS.map(lambda number: with_raw("request_id", number)), "invalid_field"),
    (not_a_type.map(lambda value: with_field("type", value)), "unknown_type"),
    (not_content.map(lambda value: with_field("content", value)), "invalid_field"),
    (st.tuples(st.sampled_from(CLIENT_TYPES), not_request_id).map(lambda t: frame_of(*t)), "invalid_field"),
    (LONE_SURROGATES.map(lambda escape: with_raw("content", f'"{escape}"')), "invalid_field"),
    (LONE_SURROGATES.map(lambda escape: with_raw("request_id", f'"{escape}"')), "invalid_field"),
    (LONE_SURROGATES.map(lambda escape: with_raw("type", f'"{escape}"')), "unknown_type"),
]  # fmt: skip


def draw_frames() -> list[tuple[str | bytes, str]]:
    """Hypothesis-generated bad frames with the code each must get (drawn up front, replayed on one socket)."""
    drawn: list[tuple[str | bytes, str]] = []
    for strategy, code in BAD_FRAMES:
        collect = given(strategy)(collector(drawn, code))
        EXAMPLES_SETTINGS(collect)()
    return drawn


def collector(drawn: list, code: str):
    def collect(frame) -> None:
        drawn.append((frame, code))

    return collect


async def test_every_bad_frame_gets_one_error_and_the_socket_keeps_working(connect, conversation, alice, settings):
    settings.PARLEY_WS_RATE = settings.PARLEY_WS_USER_RATE = 1e9
    settings.PARLEY_SYNC_INTERVAL, settings.PARLEY_SNAPSHOTS_PER_MINUTE = 0, 10**6  # a sync after each frame
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    wrong = []
    for frame, code in draw_frames():
        if isinstance(frame, bytes):
            await socket.communicator.send_to(bytes_data=frame)
        else:
            await socket.send_text(frame)
        raw = await socket.communicator.receive_from(5)
        raw.encode("utf-8")  # what daphne will do with it: a lone surrogate echoed back would fail here
        answer = json.loads(raw)
        await socket.send(type="sync")
        after = await socket.receive()
        if (answer.get("type"), answer.get("code"), after["type"]) != ("error", code, "conversation.snapshot"):
            wrong.append((frame[:200], code, answer, after["type"]))
    assert not wrong, wrong[:5]
    await socket.send(type="message.send", content="!sim tokens=20 tps=0 ttft=0", request_id="good")
    final = (await socket.receive_until("message.completed"))[-1]["message"]
    assert final["status"] == "complete" and final["content"]


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_invalid_utf8_in_a_text_frame_does_not_hurt_the_server(daphne, conversation, alice):
    cookie = await login_cookie(alice)
    socket = await LiveSocket.open(daphne, conversation.id, cookie)
    await socket.receive()
    await socket.connection.send(b'{"type": "sync", "x": "\xff\xfe\xc3\x28"}', text=True)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await socket.connection.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert daphne.process.poll() is None
    fresh = await LiveSocket.open(daphne, conversation.id, cookie)
    assert (await fresh.receive())["type"] == "conversation.snapshot"
    await fresh.close()


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_a_lone_surrogate_escaped_in_json_is_answered_over_daphne(daphne, conversation, alice):
    """The escape decodes to a string UTF-8 cannot encode; echoing it back would break the send."""
    cookie = await login_cookie(alice)
    socket = await LiveSocket.open(daphne, conversation.id, cookie)
    await socket.receive()
    for frame in (
        '{"type": "message.send", "content": "hi", "request_id": "\\ud800"}',
        '{"type": "message.send", "content": "\\udfff", "request_id": "r"}',
        '{"type": "nope", "request_id": "\\ud800"}',
    ):
        await socket.connection.send(frame)
        assert (await socket.receive())["type"] == "error"
    await socket.send(type="sync")
    assert (await socket.receive())["type"] == "conversation.snapshot"
    await socket.close()
