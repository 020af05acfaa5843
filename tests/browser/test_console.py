"""The admin's live console in Chromium against a live daphne: a reply streaming in alice's tab
appears with its growing token count, and the operator's Stop ends it there, logged."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from tests.conftest import make_person

from .chat_page import conversation_id, echo, saved_reply, send, wait_for_status, wait_for_text, words

pytestmark = pytest.mark.browser

TOKENS = "#console-replies tbody tr td.tokens"


@pytest.fixture
def operator(db, live_password_hash):
    user = make_person("olga", live_password_hash)
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


def test_the_console_shows_a_live_reply_and_stops_it(page, new_context, operator, password):
    send(page, echo(words(600), tps=30))
    chat = conversation_id(page)
    wait_for_text(page, minimum=10)

    console = new_context().new_page()
    console.errors = []
    console.on("pageerror", lambda error: console.errors.append(str(error)))
    console.goto("/admin/login/")
    console.fill("#id_username", operator.username)
    console.fill("#id_password", password)
    console.click("input[type=submit]")
    console.goto("/admin/conversations/serverprocess/console/")
    console.wait_for_selector("#console-status.live")
    console.wait_for_selector(TOKENS)
    row = console.locator("#console-replies tbody tr").first
    assert row.locator("td").nth(0).text_content() == "alice"
    first = int(console.text_content(TOKENS))
    console.wait_for_function(f"() => Number(document.querySelector('{TOKENS}').textContent) > {first}")

    console.click("#console-replies button[type=submit]")
    console.wait_for_selector(".messagelist .success")
    assert wait_for_status(page, "cancelled") == "cancelled"
    assert saved_reply(chat).status == "cancelled"
    entry = LogEntry.objects.get(user=operator)
    assert entry.change_message == "Stopped from the live console"
    console.wait_for_selector("#console-no-replies:not([hidden])")
    assert console.errors == [] and page.errors == []
