"""The Continue button on an interrupted reply, in Chromium against a live daphne."""

from __future__ import annotations

import pytest

from .chat_page import REPLY, echo, last_reply, reply_text, saved_reply, wait_for_status, words

pytestmark = pytest.mark.browser

SAVED = "The first half of an answer "


def test_continue_streams_an_interrupted_reply_on_from_its_text(page, alice, make_conversation):
    conversation = make_conversation(
        alice,
        messages=[
            ("user", echo(words(30), tps=100)),
            ("assistant", SAVED, {"status": "interrupted", "seq": 2, "model": "sim-1"}),
        ],
    )
    page.goto(f"/c/{conversation.id}/")
    page.wait_for_selector(f"{REPLY}[data-status=interrupted] .msg-action-continue")
    assert page.locator(".msg-action-regenerate").count() == 0

    last_reply(page).locator(".msg-action-continue").click()

    assert wait_for_status(page, "complete") == "complete"
    text = reply_text(page)
    assert text == SAVED + words(30)  # plain words: the rendered text is the stored text
    saved = saved_reply(str(conversation.id))
    assert (saved.status, saved.content) == ("complete", text)
    assert page.locator(f"{REPLY}").count() == 1 and page.locator(".msg-action-continue").count() == 0
    assert page.errors == []
