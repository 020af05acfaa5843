"""A live share link, opened in a second, logged-out browser: the reply streams in, and revoking ends
it; a snapshot link shows the picture its question carried."""

from __future__ import annotations

import base64

import pytest

from .chat_page import (
    conversation_id,
    echo,
    last_reply,
    reply_text,
    saved_reply,
    send,
    wait_for_status,
    wait_for_text,
    words,
)
from .test_attachments import PASTE, USER, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_logged_out_viewer_watches_the_reply_stream_in_until_revoked(page, new_context):
    send(page, echo("hello", tps=200))
    wait_for_status(page, "complete")
    page.click("#share-open")
    page.uncheck("#share-login")
    page.click("#share-create")
    url = page.locator("#share-list input").first.input_value()
    assert "/s/" in url

    viewer = new_context().new_page()  # a fresh context: no session cookie
    viewer.errors = []
    viewer.on("pageerror", lambda error: viewer.errors.append(str(error)))
    viewer.goto(url)
    viewer.wait_for_selector("#connection[data-state=open]")
    assert reply_text(viewer) == "hello"
    assert viewer.locator("#composer-input").count() == 0 and viewer.locator(".msg-action-regenerate").is_hidden()

    page.click("#share-form button[value=close]")
    expected = words(80)
    send(page, echo(expected, tps=40))
    partial = wait_for_text(viewer, minimum=30)
    assert last_reply(viewer).get_attribute("data-status") == "streaming"
    assert expected.startswith(partial) and len(partial) < len(expected)
    assert wait_for_status(viewer, "complete") == "complete"
    assert reply_text(viewer) == expected == saved_reply(conversation_id(page)).content

    page.click("#share-open")
    page.click("#share-list .share-revoke")
    viewer.wait_for_function("() => document.getElementById('banner-text').textContent.includes('revoked')")
    assert viewer.errors == [] and page.errors == []


def test_a_logged_out_viewer_sees_the_picture_a_snapshot_shows(page, new_context):
    page.evaluate(PASTE, [base64.b64encode(png_bytes()).decode(), "pasted.png"])
    page.wait_for_function("() => document.querySelector('.attachment')?.dataset.state === 'done'")
    send(page, "What colour is this?")
    wait_for_status(page, "complete")
    page.click("#share-open")
    page.select_option("#share-mode", "snapshot")
    page.uncheck("#share-login")
    page.click("#share-create")
    url = page.locator("#share-list input").first.input_value()

    viewer = new_context().new_page()
    viewer.errors = []
    viewer.on("pageerror", lambda error: viewer.errors.append(str(error)))
    viewer.goto(url)
    viewer.locator(f"{USER} .message-image img").wait_for()
    viewer.wait_for_function("() => document.querySelector('.message-image img').naturalWidth === 12")
    assert "?share=" in viewer.locator(f"{USER} .message-image img").get_attribute("src")
    assert viewer.errors == [] and page.errors == []
