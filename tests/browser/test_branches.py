"""Branches in the browser: editing a message, and switching between its versions in two tabs."""

from __future__ import annotations

import pytest

from .chat_page import conversation_id, echo, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

USER = ".message[data-role=user]"
REPLY_IS = "text => document.querySelector('.message[data-role=assistant] .message-body')?.textContent === text"


def test_editing_a_message_branches_and_both_tabs_switch_between_versions(page):
    send(page, echo("first answer"))
    wait_for_status(page, "complete")
    chat = conversation_id(page)
    other = page.context.new_page()
    other.goto(f"/c/{chat}/")
    other.wait_for_selector(f"{USER} .message-body")

    page.click(f"{USER} .msg-action-edit")
    page.fill(".message-editor-input", echo("second answer"))
    page.click(".message-editor button[type=submit]")
    for tab in (page, other):  # the edit shows at once in both tabs, with its version number
        tab.wait_for_function(REPLY_IS, arg="second answer")
        assert tab.text_content(f"{USER} .branch-position") == "2/2"
        assert tab.locator(USER).count() == 1

    other.click(f"{USER} .msg-action-branch-select[aria-label='Previous version']")
    for tab in (page, other):  # switching in one tab switches both
        tab.wait_for_function(REPLY_IS, arg="first answer")
        assert tab.text_content(f"{USER} .branch-position") == "1/2"
