"""The model picker and chat settings in the header, against a live daphne and its simulator."""

from __future__ import annotations

import pytest

from conversations.models import Conversation, Message, Provider
from tests.catalog import add_model

from .chat_page import REPLY, conversation_id, echo, send, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.db, pytest.mark.timeout(120)]


@pytest.fixture
def two_models(server):
    """Made before the page loads, so its picker lists them (the simulator reports the model it was asked for);
    they replace the catalog the live server made from its settings when it started."""
    Provider.objects.all().delete()
    return add_model("sim", "sim-a", label="Sim A", is_default=True), add_model("sim", "sim-b", label="Sim B")


def reply_models(page) -> list[str]:
    return page.eval_on_selector_all(f"{REPLY} .message-model", "nodes => nodes.map(n => n.textContent)")


def test_a_picked_model_writes_the_reply_and_a_switch_mid_conversation_takes_effect(two_models, page):
    sim_a, sim_b = two_models
    picker = page.locator("#model-picker")
    picker.wait_for(state="visible")
    assert picker.input_value() == str(sim_a.id)  # the default, for a new chat
    picker.select_option(label="Sim B")
    send(page, echo("first, from B"))
    chat = conversation_id(page)
    wait_for_status(page, "complete")
    assert reply_models(page) == ["sim-b"]
    assert Conversation.objects.get(id=chat).model_id == sim_b.id

    with page.expect_response(lambda response: response.request.method == "PATCH"):
        picker.select_option(label="Sim A")
    send(page, echo("second, from A"))
    page.wait_for_function(
        "selector => [...document.querySelectorAll(selector)].filter(n => n.dataset.status === 'complete').length == 2",
        arg=REPLY,
    )
    assert reply_models(page) == ["sim-b", "sim-a"]
    saved = Message.objects.filter(conversation_id=chat, role="assistant").order_by("position")
    assert [message.model for message in saved] == ["sim-b", "sim-a"]
    page.reload()
    picker.wait_for(state="visible")
    page.wait_for_function("id => document.querySelector('#model-picker').value === id", arg=str(sim_a.id))
    assert page.errors == []


def test_system_prompt_and_temperature_are_edited_in_the_header(two_models, page):
    send(page, echo("hi"))
    chat = conversation_id(page)
    wait_for_status(page, "complete")
    page.click("#settings-open")
    page.fill("#settings-prompt", "Answer like a pirate.")
    page.fill("#settings-temperature", "0.3")
    with page.expect_response(lambda response: response.request.method == "PATCH"):
        page.click("#settings-save")
    page.locator("#settings-dialog").wait_for(state="hidden")
    conversation = Conversation.objects.get(id=chat)
    assert (conversation.system_prompt, conversation.temperature) == ("Answer like a pirate.", 0.3)
    page.click("#settings-open")
    page.fill("#settings-temperature", "7")
    page.click("#settings-save")
    assert page.locator("#settings-dialog").get_attribute("open") is not None  # out of range: the dialog stays open
    assert Conversation.objects.get(id=chat).temperature == 0.3
