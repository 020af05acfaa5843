"""Keyboard shortcuts: new chat, search, stop, edit the last message, and the `?` list; none of them
takes a key from someone typing."""

from __future__ import annotations

import pytest

from .chat_page import conversation_id, echo, models_listed, send, wait_for_status, wait_for_text, words

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def catalog_written(page):
    """Every test here starts once the page has read the model list (chat_page.models_listed)."""
    models_listed(page)


USER = ".message[data-role=user]"
FOCUSED = "document.activeElement.id"
LAST_REPLY_IS = (
    "t => [...document.querySelectorAll('.message[data-role=assistant] .message-body')].at(-1)?.textContent === t"
)
SHORTCUT_ROWS = [
    "Ctrl/⌘ Shift O",
    "Ctrl/⌘ K or /",
    "Esc",
    "↑ in the empty message box",
    "Enter / Shift Enter",
    "?",
]


def answered(page, text: str = "first answer") -> str:
    send(page, echo(text))
    wait_for_status(page, "complete")
    return conversation_id(page)


def test_control_shift_o_starts_a_new_chat(page):
    answered(page)

    page.locator("#thread").focus()
    page.keyboard.press("Control+Shift+O")

    page.wait_for_url("**/")
    assert page.is_visible("#empty-state")
    assert page.evaluate(FOCUSED) == "composer-input"


@pytest.mark.parametrize("keys", ["Control+K", "Meta+K", "/"])
def test_control_k_and_slash_focus_the_search(page, keys):
    page.locator("#thread").focus()

    page.keyboard.press(keys)

    assert page.evaluate(FOCUSED) == "search-input"


def test_slash_and_question_mark_are_typed_in_the_message_box(page):
    page.focus("#composer-input")

    page.keyboard.type("and/or?")

    assert page.input_value("#composer-input") == "and/or?"
    assert page.evaluate(FOCUSED) == "composer-input"
    assert page.is_hidden("#shortcuts-dialog")


def test_escape_anywhere_stops_the_streaming_reply(page):
    send(page, echo(words(400), tps=30))
    wait_for_text(page, minimum=20)

    page.locator("#thread").focus()  # not the message box, which has its own Esc
    page.keyboard.press("Escape")

    assert wait_for_status(page, "cancelled") == "cancelled"


def test_arrow_up_in_the_empty_box_edits_the_last_message(page):
    send(page, echo("first answer"))
    wait_for_status(page, "complete")
    send(page, echo("second answer"))
    page.wait_for_function(LAST_REPLY_IS, arg="second answer")
    wait_for_status(page, "complete")

    page.focus("#composer-input")
    page.keyboard.press("ArrowUp")

    editor = page.locator(".message-editor-input")
    editor.wait_for()
    assert page.evaluate("document.activeElement.classList.contains('message-editor-input')")
    assert editor.input_value() == echo("second answer")  # the last of the user's messages, not the first
    assert page.locator(USER).last.locator(".message-editor").count() == 1
    editor.fill(echo("edited answer"))
    page.click(".message-editor button[type=submit]")
    page.wait_for_function(LAST_REPLY_IS, arg="edited answer")
    assert page.locator(USER).last.locator(".branch-position").text_content() == "2/2"


def test_arrow_up_in_a_box_with_text_only_moves_the_caret(page):
    answered(page)
    page.fill("#composer-input", "line one\nline two")

    page.focus("#composer-input")
    page.keyboard.press("ArrowUp")

    assert page.locator(".message-editor").count() == 0
    assert page.evaluate(FOCUSED) == "composer-input"


def test_arrow_up_in_a_new_chat_does_nothing(page):
    page.focus("#composer-input")

    page.keyboard.press("ArrowUp")

    assert page.locator(".message-editor").count() == 0
    assert page.evaluate(FOCUSED) == "composer-input"


def test_question_mark_lists_the_shortcuts_and_escape_closes_the_list(page):
    page.locator("#thread").focus()

    page.keyboard.press("?")

    dialog = page.locator("#shortcuts-dialog")
    dialog.wait_for()
    rows = dialog.locator("tr td:first-child").all_text_contents()
    assert [" ".join(row.split()) for row in rows] == SHORTCUT_ROWS
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_the_shortcuts_button_opens_the_same_list(page):
    page.click("#shortcuts-open")

    page.locator("#shortcuts-dialog").wait_for()
    page.click("#shortcuts-dialog button[value=close]")
    page.locator("#shortcuts-dialog").wait_for(state="hidden")
