"""The chat page against a live daphne: replies stream, stop, regenerate, survive reloads, restarts and second tabs."""

from __future__ import annotations

import pytest

from conversations.models import Message

from .chat_page import (
    REPLY,
    conversation_id,
    echo,
    last_reply,
    log_in,
    reply_text,
    saved_reply,
    send,
    wait_for_status,
    wait_for_text,
    words,
)  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_reply_streams_in_and_matches_what_was_saved(page):
    expected = words(120)
    send(page, echo(expected, tps=40))
    chat = conversation_id(page)
    assert page.locator(".message[data-role=user] .message-body").first.text_content().endswith(expected)

    partial = wait_for_text(page, minimum=40)
    assert last_reply(page).get_attribute("data-status") == "streaming"
    assert expected.startswith(partial) and len(partial) < len(expected)
    assert page.is_visible("#stop") and page.is_hidden("#send")
    assert "replying" in page.text_content("#composer-status")
    page.wait_for_timeout(600)

    assert wait_for_status(page, "complete") == "complete"
    assert reply_text(page) == expected == saved_reply(chat).content
    page.wait_for_function("() => document.getElementById('announcer').textContent === 'Reply finished.'")
    assert page.is_visible("#send") and page.is_hidden("#stop")
    assert page.locator(f"{REPLY} .msg-action-regenerate").count() == 1
    assert page.text_content("#conversation-title") == "!sim echo=1 ttft=0 tps=40"
    assert page.locator(f".conv[data-id='{chat}']").count() == 1
    assert page.errors == []


def test_enter_sends_and_shift_enter_breaks_the_line(page):
    page.click("#composer-input")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#composer-input") == "first line\nsecond line"
    grown = page.eval_on_selector("#composer-input", "node => node.getBoundingClientRect().height")
    assert grown > 40
    page.keyboard.press("Enter")
    page.wait_for_selector(".message[data-role=user]")
    assert page.input_value("#composer-input") == ""
    assert page.text_content(".message[data-role=user] .message-body") == "first line\nsecond line"
    wait_for_status(page, "complete")


def test_stop_keeps_the_partial_reply(page):
    send(page, echo(words(400), tps=30))
    chat = conversation_id(page)
    wait_for_text(page, minimum=30)
    page.click("#stop")
    assert wait_for_status(page, "cancelled") == "cancelled"
    saved = saved_reply(chat)
    assert saved.status == "cancelled"
    assert reply_text(page) == saved.content and 0 < len(saved.content) < len(words(400))
    assert last_reply(page).locator(".status-note").text_content() == "Stopped"
    page.wait_for_function("() => document.getElementById('announcer').textContent === 'Reply stopped.'")


def test_escape_stops_the_reply(page):
    send(page, echo(words(400), tps=30))
    wait_for_text(page, minimum=20)
    page.focus("#composer-input")
    page.keyboard.press("Escape")
    assert wait_for_status(page, "cancelled") == "cancelled"


def test_regenerate_replaces_the_last_reply(page):
    send(page, "!sim tokens=20 tps=100 ttft=0")
    chat = conversation_id(page)
    wait_for_status(page, "complete")
    first_id = last_reply(page).get_attribute("data-id")
    page.click(f"{REPLY} .msg-action-regenerate")
    page.wait_for_function(
        "([selector, old]) => { const n = document.querySelectorAll(selector);"
        " return n.length === 1 && n[0].dataset.id !== old && n[0].dataset.status === 'complete'; }",
        arg=[REPLY, first_id],
    )
    saved = saved_reply(chat)
    assert str(saved.id) == last_reply(page).get_attribute("data-id")
    assert page.locator(REPLY).count() == 1


def test_reload_mid_stream_loses_and_doubles_nothing(page):
    expected = words(200)
    send(page, echo(expected, tps=30))
    chat = conversation_id(page)
    wait_for_text(page, minimum=60)
    page.reload()
    page.wait_for_selector(REPLY)
    assert last_reply(page).get_attribute("data-status") == "streaming"
    assert wait_for_status(page, "complete") == "complete"
    assert reply_text(page) == expected == saved_reply(chat).content


def test_a_second_tab_streams_the_same_reply_live(page, new_context):
    send(page, "hello\n!sim tokens=10 tps=100 ttft=0")
    chat = conversation_id(page)
    wait_for_status(page, "complete")
    other = page.context.new_page()
    other.goto(f"/c/{chat}/")
    other.wait_for_selector("#connection[data-state=open]")

    expected = words(150)
    send(page, echo(expected, tps=40))
    other.wait_for_function("s => document.querySelectorAll(s).length === 2", arg=REPLY)
    partial = wait_for_text(other, minimum=30)
    assert last_reply(other).get_attribute("data-status") == "streaming"
    assert expected.startswith(partial)
    for tab in (page, other):
        assert wait_for_status(tab, "complete") == "complete"
    assert reply_text(page) == reply_text(other) == expected == saved_reply(chat).content
    texts = [tab.eval_on_selector("#messages", "n => n.innerText") for tab in (page, other)]
    assert texts[0] == texts[1]


def test_a_server_restart_shows_the_indicator_and_recovers(page, server):
    send(page, echo(words(300), tps=25))
    chat = conversation_id(page)
    page.wait_for_selector("#connection[data-state=open]")
    wait_for_text(page, minimum=40)

    server.stop()
    page.wait_for_selector("#connection[data-state=reconnecting]")
    assert page.is_visible("#banner")
    assert "Reconnecting" in page.text_content("#banner")
    assert page.is_disabled("#send")
    server.start()

    page.wait_for_selector("#connection[data-state=open]", timeout=30_000)
    assert page.is_hidden("#banner")
    final = wait_for_status(page, "interrupted", "complete", "failed", timeout=40_000)
    saved = saved_reply(chat)
    assert saved.status == final
    assert reply_text(page) == saved.content

    send(page, echo("back again", tps=100))
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].at(-1).textContent === 'back again'", arg=f"{REPLY} .message-body"
    )


def test_a_failed_reply_shows_its_error_and_retry(page):
    send(page, "!sim fail=500 ttft=0")
    chat = conversation_id(page)
    assert wait_for_status(page, "failed") == "failed"
    saved = saved_reply(chat)
    assert saved.error
    assert last_reply(page).locator(".message-error").text_content() == saved.error
    assert page.is_visible(f"{REPLY} .msg-action-retry")
    failed_id = last_reply(page).get_attribute("data-id")
    page.click(f"{REPLY} .msg-action-retry")
    page.wait_for_function(
        "([s, old]) => { const n = [...document.querySelectorAll(s)]; return n.length === 1 && n[0].dataset.id !== old"
        " && n[0].dataset.status === 'failed'; }",
        arg=[REPLY, failed_id],
    )
    assert Message.objects.filter(conversation_id=chat, role="assistant").count() >= 1


def test_logging_out_elsewhere_ends_the_session_here(page, alice, password):
    send(page, "hi\n!sim tokens=5 tps=100 ttft=0")
    wait_for_status(page, "complete")
    other = page.context.new_page()
    other.goto("/")
    other.wait_for_selector("body.is-ready")
    other.click(".logout-form button")
    other.wait_for_url("**/accounts/login/**")
    page.wait_for_selector("#connection[data-state=ended]", timeout=20_000)
    assert "Session ended" in page.text_content("#banner")
    assert page.is_visible("#banner-login")
    assert page.is_disabled("#send")
    log_in(other, alice.username, password)
