"""Cross-site WebSocket hijacking: only this site's own origin may open a socket (CVE-2026-44546).

The browser sends the session cookie with any site's WebSocket request, so the Origin header is
the only thing telling this site's page from a hostile one. These run against a live daphne,
because how duplicated headers reach the ASGI scope is decided by the server, not by Channels.
"""

from __future__ import annotations

import pytest

from chatsite.origins import same_origin
from tests.wsclient import login_cookie

from .conftest import raw_handshake, ws_path


def origins_that_must_fail(port: int) -> list[list[str]]:
    own = f"http://127.0.0.1:{port}"
    return [
        ["http://evil.example"],
        ["null"],
        [f"{own}, http://evil.example"],  # one header, two origins
        [f"http://evil.example, {own}"],
        ["http://evil.example", own],  # two headers, the good one last
        [own, "http://evil.example"],  # two headers, the good one first
        [own, own],  # even twice the same: a proxy or a client is misbehaving
        [f"http://127.0.0.1:{port + 1}"],  # same host, another port: another web app
        [f"http://127.0.0.1.evil.example:{port}"],
        [f"http://127.0.0.1:{port}@evil.example"],
        [f"{own}/path"],
        [f"javascript://127.0.0.1:{port}"],
    ]


@pytest.fixture
async def cookie(alice):
    return await login_cookie(alice)


@pytest.mark.integration
async def test_own_origin_is_accepted(daphne, conversation, cookie):
    answer = await raw_handshake(
        daphne, ws_path(conversation.id), [("Cookie", f"sessionid={cookie}"), ("Origin", daphne.http_url)]
    )
    assert answer.status == 101


@pytest.mark.integration
async def test_missing_origin_is_refused(daphne, conversation, cookie):
    answer = await raw_handshake(daphne, ws_path(conversation.id), [("Cookie", f"sessionid={cookie}")])
    assert answer.status == 403


@pytest.mark.integration
async def test_foreign_forged_and_smuggled_origins_are_refused(daphne, conversation, cookie):
    accepted = []
    for origins in origins_that_must_fail(daphne.port):
        headers = [("Cookie", f"sessionid={cookie}"), *(("Origin", origin) for origin in origins)]
        answer = await raw_handshake(daphne, ws_path(conversation.id), headers)
        if answer.status == 101:
            accepted.append((origins, answer.status))
    assert not accepted, accepted


@pytest.mark.parametrize(
    ("origins", "host", "same"),
    [
        (["https://chat.example.com"], "chat.example.com", True),
        (["https://chat.example.com"], "chat.example.com:443", True),
        (["http://chat.example.com:8000"], "chat.example.com:8000", True),
        (["http://chat.example.com:8001"], "chat.example.com:8000", False),
        (["https://chat.example.com:444"], "chat.example.com", False),
        (["https://chat.example.com", "https://chat.example.com"], "chat.example.com", False),
        ([], "chat.example.com", False),
        (["https://chat.example.com/"], "chat.example.com", False),
        (["wss://chat.example.com"], "chat.example.com", False),
    ],
)
def test_origin_must_be_the_requests_own(origins, host, same):
    headers = [(b"host", host.encode()), *((b"origin", origin.encode()) for origin in origins)]
    assert same_origin(headers) is same
