"""Sidebar search in the browser: matching messages with safe snippets, and a result (here on a
branch not shown) opening its conversation at that message, by keyboard."""

from __future__ import annotations

import re

import pytest

from conversations.models import Conversation, Message

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

ATTACK = '<img src=x onerror="window.pwned=1">'


@pytest.fixture
def branched_chat(alice, bob, make_conversation):
    """Alice's trip chat showing the Lisbon answer; an Azores answer waits on the other branch."""
    chat = make_conversation(
        alice,
        title="Trip planning",
        messages=[("user", "Plan a trip for May"), ("assistant", "Go to Lisbon: " + "pastries and trams. " * 40)],
    )
    question, lisbon = chat.messages.order_by("position")
    azores = Message.objects.create(
        conversation=chat,
        parent=question,
        position=2,
        role="assistant",
        content=f"Go to the Azores {ATTACK} for whales.",
    )
    Conversation.objects.filter(id=chat.id).update(active_leaf=lisbon)
    make_conversation(bob, title="Bob's", messages=[("user", "Azores for bob")])
    return chat, azores


def test_a_search_result_opens_its_conversation_at_that_message(page, branched_chat):
    chat, azores = branched_chat
    page.click("#search-input")
    page.keyboard.type("azores whales")
    hit = page.locator(".search-hit")
    hit.first.wait_for()
    assert hit.count() == 1
    assert page.inner_html(".search-hit .search-hit-snippet mark") == "Azores"
    assert page.locator(".search-hit img").count() == 0
    assert ATTACK in page.text_content(".search-hit-snippet")  # shown as text
    assert page.is_hidden("#conversation-nav")

    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.classList.contains('search-hit')")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(rf"/c/{chat.id}/\?message={azores.id}$"))
    found = page.locator(f".message.is-found[data-id='{azores.id}']")
    found.wait_for()
    assert "whales" in found.text_content()
    assert page.evaluate("document.activeElement.classList.contains('is-found')")
    assert page.text_content(f".message[data-id='{azores.id}'] .branch-position") == "2/2"
    assert Conversation.objects.get(id=chat.id).active_leaf_id == azores.id  # branch.select, for every tab
    assert page.evaluate("window.pwned") is None

    lisbon = Message.objects.get(conversation=chat, content__startswith="Go to Lisbon")
    page.fill("#search-input", "trams")  # in the conversation already open, on the branch no longer shown
    page.click(f".search-hit[data-message='{lisbon.id}']")
    page.locator(f".message.is-found[data-id='{lisbon.id}']").wait_for()
    assert page.locator(f".message[data-id='{azores.id}']").count() == 0
    assert page.errors == []


def test_a_link_to_a_message_opens_its_branch(page, branched_chat):
    chat, azores = branched_chat
    page.goto(f"/c/{chat.id}/?message={azores.id}")
    page.locator(f".message.is-found[data-id='{azores.id}']").wait_for()
    assert Message.objects.filter(conversation=chat).count() == 3


def test_escape_brings_the_conversation_list_back(page, branched_chat):
    page.fill("#search-input", "nothing-like-this")
    page.wait_for_selector("#search-status:text('No chats or messages match.')")
    page.press("#search-input", "Escape")
    assert page.input_value("#search-input") == ""
    page.wait_for_selector("#conversation-nav", state="visible")
    assert page.is_hidden("#search-results")
