"""The screenshots in docs/screenshots, made from realistic conversations (no `!sim` lines in view)."""

from __future__ import annotations

import pytest

from conversations.models import Conversation, Message

from .chat_page import MARKDOWN_SAMPLE, PHONE, REPLY, screenshot, send, wait_for_status
from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(90)]

SIDEBAR_TITLES = [
    "Trip to Lisbon: where to eat",
    "Explain CRDTs like I'm five",
    "SQL window functions",
    "Birthday poem for Sam",
]
QUESTION = "How do I reverse a string in Python?"
PARTIAL = """Sure! Here's a summary of the report's main findings:

1. **Revenue grew 12%** year over year, driven by the subscription tier.
2. Churn fell from 4.1% to 3.2% after the onboarding redesign.
3. The"""


@pytest.fixture
def conversations(account):
    """A sidebar worth looking at, and one finished exchange with code, a list and a table."""
    for title in SIDEBAR_TITLES:
        Conversation.objects.create(owner=account, title=title)
    chat = Conversation.objects.create(owner=account, title="Reverse a string in Python")
    Message.objects.create(conversation=chat, position=0, role="user", content=QUESTION)
    Message.objects.create(
        conversation=chat, position=1, role="assistant", content=MARKDOWN_SAMPLE, status="complete", model="simulator"
    )
    return chat


def open_chat(page, chat) -> None:
    page.goto(f"/c/{chat.id}/")
    page.wait_for_selector(f"{REPLY}[data-status=complete]")
    page.wait_for_selector("#connection[data-state=open]")


def test_screenshot_login(new_context):
    page = new_context().new_page()
    page.goto("/accounts/login/")
    page.wait_for_selector("#id_username")
    screenshot(page, "login")


def test_screenshot_empty_and_streaming(page, conversations):
    page.reload()
    page.wait_for_selector(".conv")
    screenshot(page, "empty")
    send(page, "Can you explain how Parley keeps a reply going when my connection drops?")
    page.wait_for_function("s => document.querySelector(s)?.textContent.length > 160", arg=f"{REPLY} .message-body")
    screenshot(page, "streaming")
    page.click("#stop")
    wait_for_status(page, "cancelled")


def test_screenshot_finished(page, conversations):
    open_chat(page, conversations)
    screenshot(page, "finished")


def test_screenshot_error(page, conversations):
    chat = Conversation.objects.create(owner=conversations.owner, title="Summarise the Q3 report")
    question = "Summarise the attached Q3 report in three points."
    Message.objects.create(conversation=chat, position=0, role="user", content=question)
    Message.objects.create(
        conversation=chat, position=1, role="assistant", content=PARTIAL, status="failed",
        error="The model provider returned an error (HTTP 500). The text so far was kept.",
    )  # fmt: skip
    page.goto(f"/c/{chat.id}/")
    page.wait_for_selector(f"{REPLY}[data-status=failed] .msg-action-retry")
    page.wait_for_selector("#connection[data-state=open]")
    screenshot(page, "error")


def test_screenshot_reconnecting(page, conversations, server):
    open_chat(page, conversations)
    server.stop()
    try:
        page.wait_for_selector("#connection[data-state=reconnecting]")
        screenshot(page, "reconnecting")
    finally:
        server.start()
    page.wait_for_selector("#connection[data-state=open]", timeout=30_000)


def test_screenshot_dark(new_context, conversations):
    page = new_context(color_scheme="dark").new_page()
    log_in(page)
    open_chat(page, conversations)
    screenshot(page, "dark")


def test_screenshot_mobile(new_context, conversations):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(page)
    open_chat(page, conversations)
    screenshot(page, "mobile")
    page.click("#sidebar-open")
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().x >= 0")
    page.wait_for_timeout(300)
    screenshot(page, "mobile-sidebar")
