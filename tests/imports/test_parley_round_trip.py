"""Parley's JSON export read back: the same tree, parts, statuses, usage and times, under new ids."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from conversations import exports, selectors, storage_limits
from conversations import services as conversation_services
from conversations.imports import reading, services
from conversations.models import Conversation, LLMModel, Message, Provider, StorageUsage

pytestmark = pytest.mark.db

TOOL_PARTS = [
    {"type": "text", "text": "Let me work that out."},
    {"type": "tool_call", "id": "call_1", "name": "calculate", "arguments": '{"expression": "6*7"}'},
    {"type": "tool_result", "call_id": "call_1", "name": "calculate", "content": "42", "is_error": False},
    {"type": "text", "text": "It is 42."},
]


@pytest.fixture
def branched(alice) -> Conversation:
    """Questions and replies with an edit, a regenerate, a tool-using reply, a failed one, one stopped
    while writing a call, and the first branch shown (not the newest)."""
    model = LLMModel.objects.create(provider=Provider.objects.create(name="acme", kind="simulator"), name="m-1")
    conversation = Conversation.objects.create(
        owner=alice, title="Sums ∑", system_prompt="Be exact.", temperature=0.3, model=model, pinned=True
    )

    def add(position, role, content, parent=None, **fields):
        return Message.objects.create(
            conversation=conversation, position=position, role=role, content=content, parent=parent, **fields
        )

    question = add(0, "user", "What is 6*7?")
    answer = add(
        1, "assistant", "Let me work that out.\n\nIt is 42.", question, parts=TOOL_PARTS, model="m-1",
        prompt_tokens=12, completion_tokens=9, cost_usd=Decimal("0.00001234"),
    )  # fmt: skip
    add(2, "assistant", "Forty-two", question, status="failed", error="The model is down.", usage_estimated=True,
        prompt_tokens=12, completion_tokens=2)  # fmt: skip
    edited = add(3, "user", "What is 6*8?")
    cut = [{"type": "text", "text": "48"}, {**TOOL_PARTS[1], "arguments": '{"expr', "partial": True}]
    add(4, "assistant", "48", edited, status="cancelled", parts=cut)  # stopped while writing a call
    follow_up = add(5, "user", "And 7*8?", answer)
    leaf = add(6, "assistant", "56", follow_up)
    Conversation.objects.filter(id=conversation.id).update(active_leaf=leaf)
    conversation.refresh_from_db()
    return conversation


def read(data: bytes):
    return reading.read_file(data, max_bytes=10**6)


def normalized(document: dict) -> dict:
    """The document with ids replaced by list positions, and the fields an import renews dropped."""
    index = {message["id"]: number for number, message in enumerate(document["messages"])}
    messages = []
    for message in document["messages"]:
        same = {key: value for key, value in message.items() if key not in {"id", "parent_id", "sibling_ids"}}
        messages.append({**same, "parent": index.get(message["parent_id"])})
    top = {key: value for key, value in document.items() if key not in {"id", "created_at", "messages"}}
    return {**top, "active_leaf_id": index.get(document["active_leaf_id"]), "messages": messages}


def test_an_export_imported_again_is_the_same_tree(alice, branched):
    exported = exports.export_json(branched)

    (imported,) = services.conversations_import(owner=alice, conversations=read(exported.encode()))

    again = json.loads(exports.export_json(imported))
    assert imported.id != branched.id
    assert normalized(again) == normalized(json.loads(exported))
    shown = [m.content for m in selectors.message_list(conversation=imported)]
    assert shown == ["What is 6*7?", "Let me work that out.\n\nIt is 42.", "And 7*8?", "56"]
    assert again["model"] == branched.model_id and again["model_name"] == "acme/m-1"
    assert imported.has_tool_calls  # its later prompts replay the imported tool calls (docs/tools.md)
    assert again["pinned"] is True


def test_the_export_all_zip_imports_every_conversation(alice, branched, make_conversation):
    make_conversation(alice, title="Second", messages=[("user", "hi"), ("assistant", "hello")])
    archive = exports.export_archive(selectors.conversation_list_all(user=alice))

    imported = services.conversations_import(owner=alice, conversations=read(archive))

    assert sorted(c.title for c in imported) == ["Second", "Sums ∑"]
    assert Conversation.objects.filter(owner=alice).count() == 4


def test_a_streaming_reply_arrives_interrupted_and_attachments_are_dropped(alice, make_conversation):
    source = make_conversation(alice, messages=[("user", "Look", {"parts": [
        {"type": "text", "text": "Look"},
        {"type": "image", "upload_id": "u1", "name": "a.png", "content_type": "image/png", "size": 3, "url": "/x"},
    ]}), ("assistant", "Half", {"status": "streaming", "seq": 4})])  # fmt: skip

    (imported,) = services.conversations_import(owner=alice, conversations=read(exports.export_json(source).encode()))

    question, reply = selectors.message_list(conversation=imported)
    assert question.parts == [] and question.content == "Look"
    assert (reply.status, reply.content, reply.seq) == ("interrupted", "Half", 4)
    assert reply.error


def test_imported_text_counts_toward_storage_and_deleting_gives_it_back(alice, branched):
    before = storage_limits.measured_bytes(alice)
    (imported,) = services.conversations_import(owner=alice, conversations=read(exports.export_json(branched).encode()))
    usage = StorageUsage.objects.get(user=alice)

    replies = imported.messages.filter(role="assistant").values_list("content", "parts")
    assert sum(storage_limits.message_bytes(content, parts) for content, parts in replies) > 0  # replies count
    assert usage.stored_bytes == storage_limits.measured_bytes(alice) > before
    conversation_services.conversation_delete(conversation=imported)
    usage.refresh_from_db()
    assert usage.stored_bytes == before == storage_limits.measured_bytes(alice)
