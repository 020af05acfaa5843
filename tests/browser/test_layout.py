"""Layout, themes, the sidebar and keyboard use."""

from __future__ import annotations

import pytest

from conversations.models import Conversation

from .chat_page import MARKDOWN_SAMPLE, PHONE, conversation_id, echo, log_in, send, wait_for_status

SHOWS_REPLY = "t => document.querySelector('.message[data-role=assistant] .message-body')?.textContent === t"
pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(90)]


def rename_in_sidebar(page, conversation_id, title: str):
    """Rename a chat through its sidebar entry, as a user does; returns the entry."""
    item = page.locator(f".conv[data-id='{conversation_id}']")
    item.hover()
    item.locator(".conv-rename").click()
    page.keyboard.press("Control+a")
    page.keyboard.type(title)
    page.keyboard.press("Enter")
    return item


def test_phone_width_collapses_the_sidebar(new_context, alice, password):
    Conversation.objects.create(owner=alice, title="Packing list for Lisbon")
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(page, alice.username, password)
    send(page, echo(MARKDOWN_SAMPLE, tps=300))
    conversation_id(page)
    wait_for_status(page, "complete")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    sidebar = page.locator("#sidebar")
    assert sidebar.bounding_box()["x"] + sidebar.bounding_box()["width"] <= 0

    page.click("#sidebar-open")
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().x >= 0")
    assert page.get_attribute("#sidebar-open", "aria-expanded") == "true"
    page.locator(".conv-link", has_text="Packing list").wait_for()
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().right <= 0")


def test_dark_theme_follows_the_system(new_context, alice, password):
    Conversation.objects.create(owner=alice, title="Weekend plans")
    page = new_context(color_scheme="dark").new_page()
    log_in(page, alice.username, password)
    send(page, echo(MARKDOWN_SAMPLE, tps=300))
    wait_for_status(page, "complete")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 24, 28)"


def test_sidebar_searches_renames_and_deletes_after_confirming(page, alice):
    for title in ("Recipe ideas", "Tax questions", "Recipe for bread"):
        Conversation.objects.create(owner=alice, title=title)
    page.reload()
    page.wait_for_selector(".conv")
    titles = page.locator(".conv-link").all_text_contents()
    assert titles == ["Recipe for bread", "Tax questions", "Recipe ideas"]

    page.keyboard.press("Control+k")
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.type("recipe")  # the two titles come back as search results, and Esc brings the list back
    page.wait_for_function("() => document.querySelectorAll('.search-hit').length === 2")
    assert set(page.locator(".search-hit-role").all_text_contents()) == {"Title"}
    page.keyboard.press("Escape")
    page.wait_for_selector("#conversation-nav", state="visible")

    target = Conversation.objects.get(title="Recipe ideas")
    item = rename_in_sidebar(page, target.id, "Sourdough notes")
    page.wait_for_function(
        "id => document.querySelector(`.conv[data-id='${id}'] .conv-link`).textContent === 'Sourdough notes'",
        arg=str(target.id),
    )
    page.wait_for_timeout(300)
    target.refresh_from_db()
    assert target.title == "Sourdough notes"

    item.hover()
    item.locator(".conv-delete").click()
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for()
    dialog.locator("button[value=cancel]").click()
    assert Conversation.objects.filter(id=target.id).exists()
    item.hover()
    item.locator(".conv-delete").click()
    dialog.locator("#confirm-ok").click()
    page.wait_for_function("id => !document.querySelector(`.conv[data-id='${id}']`)", arg=str(target.id))
    assert not Conversation.objects.filter(id=target.id).exists()


def test_opening_a_conversation_from_the_sidebar_and_new_chat(page, alice):
    send(page, echo("first chat reply", tps=300))
    first = conversation_id(page)
    wait_for_status(page, "complete")
    page.keyboard.press("Control+Shift+O")
    page.wait_for_url("**/")
    assert page.is_visible("#empty-state")
    send(page, echo("second chat reply", tps=300))
    second = conversation_id(page)
    wait_for_status(page, "complete")
    assert first != second
    page.click(f".conv[data-id='{first}'] .conv-link")
    page.wait_for_url(f"**/c/{first}/")
    page.wait_for_function(SHOWS_REPLY, arg="first chat reply")
    page.go_back()
    page.wait_for_url(f"**/c/{second}/")
    page.wait_for_function(SHOWS_REPLY, arg="second chat reply")


def test_login_page_matches_the_app(new_context):
    page = new_context().new_page()
    page.goto("/")
    page.wait_for_url("**/accounts/login/**")
    assert page.is_visible("label[for=id_username]") and page.is_visible("label[for=id_password]")
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "wrong-password")
    page.click("button[type=submit]")
    page.wait_for_selector(".form-alert")
    page.fill("#id_password", "")


def test_rename_and_delete_in_one_tab_reach_the_other(page, alice):
    chat = Conversation.objects.create(owner=alice, title="Shared plans")
    page.goto(f"/c/{chat.id}/")
    page.wait_for_selector("#connection[data-state=open]")
    other = page.context.new_page()
    other.goto(f"/c/{chat.id}/")
    other.wait_for_selector("#connection[data-state=open]")

    item = rename_in_sidebar(page, chat.id, "Holiday plans")
    other.wait_for_function("() => document.getElementById('conversation-title').textContent === 'Holiday plans'")
    other.wait_for_function(
        "id => document.querySelector(`.conv[data-id='${id}'] .conv-link`)?.textContent === 'Holiday plans'",
        arg=str(chat.id),
    )

    item.hover()
    item.locator(".conv-delete").click()
    page.locator("#confirm-ok").click()
    other.wait_for_function("id => !document.querySelector(`.conv[data-id='${id}']`)", arg=str(chat.id))
    other.wait_for_function("id => !location.pathname.includes(id)", arg=str(chat.id))
