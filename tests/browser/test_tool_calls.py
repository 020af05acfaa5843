"""Tool calls on the chat page: shown collapsed while the tool runs and after, with arguments and
result, between the text before and after them, and the same after a reload."""

from __future__ import annotations

import pytest

from .chat_page import REPLY, conversation_id, saved_reply, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

ASK = '!sim tool=calculate:{"expression":"6*7"} echo=1 ttft=0 tps=30\nLet me work that out.'


def tool_block(page):
    return page.locator(f"{REPLY} .tool-call").last


def test_a_tool_call_is_rendered_collapsed_with_its_arguments_and_result(page):
    send(page, ASK)
    chat = conversation_id(page)
    block = tool_block(page)
    block.wait_for()
    assert wait_for_status(page, "complete") == "complete"
    assert block.get_attribute("data-state") == "done"
    assert block.locator(".tool-name").text_content() == "calculate"
    assert not block.evaluate("node => node.open")  # collapsed until opened
    assert not block.locator(".tool-args").is_visible()
    block.locator("summary").click()
    assert block.locator(".tool-args").text_content() == '{\n  "expression": "6*7"\n}'
    assert block.locator(".tool-result").text_content() == "42"

    texts = page.locator(f"{REPLY} .part-text").all_text_contents()
    assert texts == ["Let me work that out.", "Tool result: 42."]
    saved = saved_reply(chat)
    assert [p["type"] for p in saved.parts] == ["text", "tool_call", "tool_result", "text"]

    page.reload()
    page.wait_for_selector("body.is-ready")
    block = tool_block(page)
    block.wait_for()
    assert block.get_attribute("data-state") == "done"
    assert page.locator(f"{REPLY} .part-text").all_text_contents() == texts
    assert page.errors == []


def test_a_failing_tool_shows_as_an_error_and_the_reply_still_completes(page):
    send(page, '!sim tool=calculate:{"expression":"1/0"} ttft=0\nGo')
    block = tool_block(page)
    block.wait_for()
    assert wait_for_status(page, "complete") == "complete"
    assert block.get_attribute("data-state") == "error"
    block.locator("summary").click()
    assert "ZeroDivisionError" in block.locator(".tool-result").text_content()
    assert page.errors == []


def test_a_call_shows_while_the_model_writes_it_and_after_a_reload(page):
    """The simulator stalls halfway through the call's arguments: the page shows the call as being
    written, with the arguments so far, before anything ran; a reload (a new snapshot) shows the same,
    and after Stop the call stays, cut off, across a reload too."""
    send(page, '!sim tool=calculate:{"expression":"6*7"} tool_stall=1 ttft=0\nGo')
    block = tool_block(page)
    half = '{"expressi'  # the first half of {"expression":"6*7"}, as the simulator sends it
    page.wait_for_function(
        "half => [...document.querySelectorAll('.tool-args')].some(node => node.textContent === half)", arg=half
    )
    assert block.get_attribute("data-state") == "writing"
    assert block.locator(".tool-state").text_content() == "Writing…"
    assert block.locator(".tool-name").text_content() == "calculate"

    page.reload()
    page.wait_for_selector("body.is-ready")
    block = tool_block(page)
    block.wait_for()
    assert block.get_attribute("data-state") == "writing"
    assert block.locator(".tool-args").text_content() == half
    page.click("#stop")
    assert wait_for_status(page, "cancelled") == "cancelled"
    assert block.get_attribute("data-state") == "partial"  # kept as written so far, never run
    assert block.locator(".tool-state").text_content() == "Cut off"
    page.reload()
    page.wait_for_selector("body.is-ready")
    block = tool_block(page)
    block.wait_for()
    assert block.get_attribute("data-state") == "partial"
    assert block.locator(".tool-args").text_content() == half
    assert page.errors == []
