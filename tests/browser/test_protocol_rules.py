"""Client-side protocol rules, checked by sitting between the page and the live server."""

from __future__ import annotations

import json

import pytest

from .chat_page import REPLY, conversation_id, echo, send, wait_for_status, words

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(90)]


class Tap:
    """Forwards the page's socket to the server, records what the page sends, and can inject frames."""

    def __init__(self, page) -> None:
        self.sent: list[dict] = []
        self.route = None
        page.route_web_socket("**/ws/conversations/**", self.attach)

    def attach(self, route) -> None:
        self.route = route
        server = route.connect_to_server()
        route.on_message(lambda message: (self.sent.append(json.loads(message)), server.send(message)))

    def inject(self, **frame) -> None:
        self.route.send(json.dumps(frame))


def test_an_error_frame_shows_a_toast_not_a_console_log(page):
    logs = []
    page.on("console", lambda message: logs.append(message.text))
    tap = Tap(page)
    send(page, "hi\n!sim tokens=5 tps=100 ttft=0")
    wait_for_status(page, "complete")
    tap.inject(type="error", code="busy", detail="A reply is already being written in this conversation.")
    toast = page.locator(".toast")
    toast.wait_for()
    assert toast.text_content() == "A reply is already being written in this conversation."
    assert toast.get_attribute("role") == "alert"
    assert logs == []


def test_a_seq_gap_asks_for_a_snapshot_and_old_deltas_are_ignored(page):
    tap = Tap(page)
    expected = words(150)
    send(page, echo(expected, tps=30))
    conversation_id(page)
    page.wait_for_function("s => document.querySelector(s)?.textContent.length > 10", arg=f"{REPLY} .message-body")
    reply_id = page.get_attribute(REPLY, "data-id")
    before = page.text_content(f"{REPLY} .message-body")
    tap.inject(type="message.delta", message_id=reply_id, seq=1, delta="DOUBLED")
    tap.inject(type="message.delta", message_id=reply_id, seq=10_000, delta="GAP")
    page.wait_for_function("() => true")
    page.wait_for_timeout(200)
    assert {"type": "sync"} in tap.sent
    assert wait_for_status(page, "complete") == "complete"
    text = page.text_content(f"{REPLY} .message-body")
    assert text == expected and "DOUBLED" not in text and "GAP" not in text and text.startswith(before)
