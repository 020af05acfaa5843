"""Pinning and archiving from a chat's sidebar menu, the archived view, and a second tab following along."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation

from .chat_page import echo, models_listed, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def catalog_written(page):
    """Every test here starts once the page has read the model list (chat_page.models_listed)."""
    models_listed(page)


TITLES = "() => [...document.querySelectorAll('#conversation-list .conv-link')].map(n => n.textContent)"


def chats(alice, *titles: str) -> list[Conversation]:
    """Alice's chats, the first the most recently active."""
    now = timezone.now()
    made = [Conversation.objects.create(owner=alice, title=title) for title in titles]
    for minutes, chat in enumerate(made):
        Conversation.objects.filter(id=chat.id).update(updated_at=now - timedelta(minutes=minutes + 1))
    return made


def open_tab(context, chat: Conversation):
    """A tab showing `chat`, its socket open (so it hears about the other chats too)."""
    tab = context.new_page()
    tab.goto(f"/c/{chat.id}/")
    tab.wait_for_selector("#connection[data-state=open]")
    return tab


def pick(page, chat: Conversation, label: str) -> None:
    """Open a chat's ⋯ menu in the sidebar and pick `label`, as a user does."""
    item = page.locator(f".conv[data-id='{chat.id}']")
    item.hover()
    item.locator(".conv-menu").click()
    page.get_by_role("menuitem", name=label).click()


def shows(page, titles: list[str]) -> None:
    page.wait_for_function(f"titles => JSON.stringify(({TITLES})()) === JSON.stringify(titles)", arg=titles)


def test_pinning_puts_a_chat_on_top_in_every_tab_and_unpinning_puts_it_back(page, alice):
    recent, middle, old = chats(alice, "Recent", "Middle", "Old")
    here = open_tab(page.context, recent)
    there = open_tab(page.context, middle)
    shows(here, ["Recent", "Middle", "Old"])

    pick(here, old, "Pin to top")

    for tab in (here, there):
        shows(tab, ["Old", "Recent", "Middle"])
        tab.locator(f".conv[data-id='{old.id}'] .conv-pin-mark").wait_for()
    assert Conversation.objects.get(id=old.id).pinned

    pick(there, old, "Unpin")

    for tab in (here, there):
        shows(tab, ["Recent", "Middle", "Old"])
        assert tab.locator(".conv-pin-mark").count() == 0
    assert not Conversation.objects.get(id=old.id).pinned


def test_the_menu_works_from_the_keyboard(page, alice):
    (chat,) = chats(alice, "Keyboard chat")
    page.reload()
    item = page.locator(f".conv[data-id='{chat.id}']")
    item.locator(".conv-link").focus()
    page.keyboard.press("Tab")  # rename
    page.keyboard.press("Tab")  # ⋯
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.textContent === 'Pin to top'")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == "Archive"
    page.keyboard.press("Escape")
    assert page.locator(".conv-menu-list").count() == 0
    assert page.evaluate("document.activeElement.classList.contains('conv-menu')")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # the first item: pin
    item.locator(".conv-pin-mark").wait_for()
    assert Conversation.objects.get(id=chat.id).pinned


def test_archiving_hides_a_chat_everywhere_and_the_archived_view_brings_it_back(page, alice):
    shown, other = chats(alice, "Shown chat", "Other chat")
    here = open_tab(page.context, shown)
    there = open_tab(page.context, other)

    pick(here, shown, "Archive")

    for tab in (here, there):
        shows(tab, ["Other chat"])
    here.locator("#archived-chip").wait_for()  # the chat stays open, marked archived
    assert there.is_hidden("#archived-chip")
    assert Conversation.objects.get(id=shown.id).archived

    there.click("#archived-toggle")
    shows(there, ["Shown chat"])
    assert there.text_content("#list-title") == "Archived chats"
    assert there.get_attribute("#archived-toggle", "aria-pressed") == "true"

    pick(there, shown, "Unarchive")

    shows(there, [])
    there.wait_for_function("() => document.getElementById('list-empty').textContent === 'No archived chats.'")
    shows(here, ["Shown chat", "Other chat"])
    here.wait_for_selector("#archived-chip", state="hidden")
    there.click("#archived-toggle")
    shows(there, ["Shown chat", "Other chat"])
    assert not Conversation.objects.get(id=shown.id).archived


def test_an_archived_chat_can_be_deleted_from_the_archived_view(page, alice):
    kept, gone = chats(alice, "Kept", "Gone")
    Conversation.objects.filter(id=gone.id).update(archived=True)
    page.reload()
    shows(page, ["Kept"])

    page.click("#archived-toggle")
    shows(page, ["Gone"])
    item = page.locator(f".conv[data-id='{gone.id}']")
    item.hover()
    item.locator(".conv-delete").click()
    page.locator("#confirm-ok").click()

    shows(page, [])
    assert not Conversation.objects.filter(id=gone.id).exists()
    assert Conversation.objects.filter(id=kept.id).exists()


def test_an_archived_chat_stays_readable_can_be_sent_to_and_unarchived_from_its_page(page, alice, make_conversation):
    chat = make_conversation(alice, title="Old trip", messages=[("user", "Lisbon?"), ("assistant", "Yes, Lisbon.")])
    Conversation.objects.filter(id=chat.id).update(archived=True)
    page.goto(f"/c/{chat.id}/")
    page.wait_for_selector("#connection[data-state=open]")
    page.locator("#archived-chip").wait_for()
    assert page.text_content(".message[data-role=assistant] .message-body") == "Yes, Lisbon."

    send(page, echo("Still here."))
    wait_for_status(page, "complete")

    shows(page, [])  # sending did not bring it back to the list
    assert Conversation.objects.get(id=chat.id).archived
    page.click("#unarchive")
    page.wait_for_selector("#archived-chip", state="hidden")
    shows(page, ["Old trip"])
    assert not Conversation.objects.get(id=chat.id).archived


def test_the_header_menu_pins_and_archives_the_open_chat(page, alice):
    chat, other = chats(alice, "Open chat", "Other chat")
    Conversation.objects.filter(id=other.id).update(pinned=True)
    page.goto(f"/c/{chat.id}/")
    page.wait_for_selector("#connection[data-state=open]")
    shows(page, ["Other chat", "Open chat"])

    page.click("#menu-open")
    page.get_by_role("menuitem", name="Pin to top").click()

    page.locator(f".conv[data-id='{chat.id}'] .conv-pin-mark").wait_for()
    shows(page, ["Open chat", "Other chat"])  # both pinned: the more recent first
    page.click("#menu-open")
    assert page.get_by_role("menuitem", name="Unpin").is_visible()
    page.get_by_role("menuitem", name="Archive").click()

    page.locator("#archived-chip").wait_for()
    shows(page, ["Other chat"])
    saved = Conversation.objects.get(id=chat.id)
    assert saved.pinned and saved.archived
    page.click("#menu-open")
    page.get_by_role("menuitem", name="Unarchive").click()
    shows(page, ["Open chat", "Other chat"])


def test_a_tab_with_no_chat_open_follows_too(page, alice):
    recent, old = chats(alice, "Recent", "Old")
    page.reload()  # the new chat: no chat socket, the list's own socket instead
    shows(page, ["Recent", "Old"])
    there = open_tab(page.context, recent)

    pick(there, old, "Pin to top")
    shows(page, ["Old", "Recent"])
    pick(there, old, "Archive")
    shows(page, ["Recent"])
    there.locator(f".conv[data-id='{recent.id}'] .conv-delete").click()
    there.locator("#confirm-ok").click()

    shows(page, [])
