"""Sending a message with attachments through the generation service: images reach vision models,
documents' text reaches the prompt within its budget, and refusals come before any upstream call."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from conversations import generation
from conversations.attachments import services
from conversations.attachments.sniff import prepare
from conversations.catalog.environment import ensure_catalog
from conversations.models import Conversation, LLMModel, Message, Upload

from .conftest import pdf, png

pytestmark = pytest.mark.django_db(transaction=True)
ECHO = "!sim echo=1 tps=0 ttft=0\n"


@sync_to_async
def new_upload(owner, data: bytes, name: str) -> Upload:
    return services.upload_create(owner=owner, name=name, prepared=prepare(data, name=name))


@sync_to_async
def without_vision() -> None:
    ensure_catalog()
    LLMModel.objects.update(vision=False)


@sync_to_async
def new_conversation(owner, **fields) -> Conversation:
    return Conversation.objects.create(owner=owner, title="Files", **fields)


@sync_to_async
def reload(model, pk):
    return model.objects.get(pk=pk)


@sync_to_async
def message_count(conversation) -> int:
    return Message.objects.filter(conversation=conversation).count()


async def send(worker, user, conversation, content: str, uploads, request_id="r1") -> Message:
    started = await generation.start(
        user=user,
        conversation_id=conversation.id,
        content=content,
        request_id=request_id,
        attachments=tuple(str(u.id) for u in uploads),
    )
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 20)
    return started


async def test_an_image_reaches_a_vision_model_which_describes_it(worker, alice):
    conversation = await new_conversation(alice)
    image = await new_upload(alice, png(), "red.png")
    started = await send(worker, alice, conversation, "What is this?", [image])
    reply = await reload(Message, started.reply.id)
    assert reply.status == Message.Status.COMPLETE
    assert reply.content == f"I received 1 image: image/png, {image.size} bytes."
    user_message = await reload(Message, started.user_message.id)
    assert [p["type"] for p in user_message.parts] == ["text", "image"]
    part = user_message.parts[1]
    assert (part["upload_id"], part["name"], part["width"], part["url"]) == (
        str(image.id),
        "red.png",
        8,
        f"/api/uploads/{image.id}/content",
    )
    assert (await reload(Upload, image.id)).message_id == user_message.id
    assert (await reload(Conversation, conversation.id)).has_attachments


async def test_an_image_for_a_model_without_vision_is_refused_before_anything_is_saved(worker, alice):
    await without_vision()
    conversation = await new_conversation(alice)
    image = await new_upload(alice, png(), "red.png")
    with pytest.raises(generation.Refused) as refused:
        await send(worker, alice, conversation, "What is this?", [image])
    assert refused.value.code == "model_cannot_see" and "cannot read images" in refused.value.detail
    assert await message_count(conversation) == 0 and (await reload(Upload, image.id)).message_id is None


async def test_a_documents_text_goes_into_the_prompt(worker, alice):
    conversation = await new_conversation(alice)
    document = await new_upload(alice, pdf("The launch code is 0000"), "plan.pdf")
    started = await send(worker, alice, conversation, ECHO + "Summarise this.", [document])
    reply = await reload(Message, started.reply.id)
    assert reply.content.startswith('Summarise this.\n\n<document name="plan.pdf">\n')
    assert "The launch code is 0000" in reply.content and "Truncated" not in reply.content


async def test_text_past_the_token_budget_is_cut_with_a_note(worker, alice, settings):
    settings.PARLEY_ATTACHMENT_TOKEN_BUDGET = 5  # 20 characters
    conversation = await new_conversation(alice)
    document = await new_upload(alice, ("word " * 100).encode(), "long.txt")
    started = await send(worker, alice, conversation, ECHO + "Read it.", [document])
    reply = await reload(Message, started.reply.id)
    assert "word word word word \n</document>" in reply.content
    assert "[Truncated: only the first 20 of 500 characters of long.txt fit in the prompt.]" in reply.content


async def test_earlier_attachments_stay_in_the_history(worker, alice):
    conversation = await new_conversation(alice)
    document = await new_upload(alice, b"remember: blue", "note.txt")
    await send(worker, alice, conversation, "Keep this.", [document])
    started = await send(worker, alice, conversation, ECHO + "What colour?", [], request_id="r2")
    history = started.history
    assert history[0]["attachments"][0].name == "note.txt" and "attachments" not in history[-1]


@pytest.mark.parametrize("problem", ["strangers", "already_sent", "unknown", "too_large"])
async def test_bad_attachments_are_refused(worker, alice, bob, settings, problem):
    conversation = await new_conversation(alice)
    owner = bob if problem == "strangers" else alice
    upload = await new_upload(owner, b"some text", "a.txt")
    ids = [upload]
    if problem == "already_sent":
        await send(worker, alice, conversation, "first", [upload])
    if problem == "unknown":
        await sync_to_async(Upload.objects.filter(id=upload.id).delete)()
    if problem == "too_large":
        settings.PARLEY_UPLOAD_MAX_PER_MESSAGE = 5
    with pytest.raises(generation.Refused) as refused:
        await send(worker, alice, conversation, "again", ids, request_id="r9")
    assert refused.value.code == ("too_large" if problem == "too_large" else "invalid_field")


async def test_the_json_api_sends_attachments_and_maps_refusals_to_statuses(worker, alice, settings):
    from django.test import AsyncClient

    client = AsyncClient()
    await client.aforce_login(alice)
    conversation = await new_conversation(alice)
    url = f"/api/conversations/{conversation.id}/messages/"
    image = await new_upload(alice, png(), "a.png")
    await without_vision()
    refused = await client.post(
        url, {"attachments": [str(image.id)], "request_id": "a1"}, content_type="application/json"
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "model_cannot_see")
    unknown = await client.post(url, {"attachments": ["nope"], "request_id": "a2"}, content_type="application/json")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_field")
    await LLMModel.objects.aupdate(vision=True)
    sent = await client.post(url, {"attachments": [str(image.id)], "request_id": "a3"}, content_type="application/json")
    assert sent.status_code == 202
    body = sent.json()
    assert body["user_message"]["content"] == "" and [p["type"] for p in body["user_message"]["parts"]] == ["image"]
    running = worker.running.get(body["reply"]["id"])
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 20)
    reply = await reload(Message, body["reply"]["id"])
    assert reply.content.startswith("I received 1 image")
