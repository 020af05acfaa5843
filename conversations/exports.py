"""Conversation exports, for their owners and for admins: Parley's JSON document (the whole tree),
a Markdown transcript (the branch shown) and the "export all" zip. docs/export.md describes them;
conversations/imports/ reads the JSON back.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from . import selectors, tree
from .models import Conversation, LLMModel, Message
from .parts import parts_view
from .protocol import conversation_payload, message_payload

FORMAT = "parley.conversation"  # the `format` of one conversation's document
ARCHIVE_FORMAT = "parley.export"  # the `format` of the zip's manifest.json
VERSION = 1


def export_document(conversation: Conversation, messages: list[Message] | None = None) -> dict[str, Any]:
    """Every message of every branch in creation order (parents first), and the branch shown.
    `messages`, when given, are `selectors.message_list_all`'s (one read for both exports)."""
    messages = selectors.message_list_all(conversation=conversation) if messages is None else messages
    shown = tree.active_path(messages, conversation.active_leaf_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        **conversation_payload(conversation),
        "model_name": model_name(conversation.model_id),
        "owner": conversation.owner.get_username(),
        "active_leaf_id": str(shown[-1].id) if shown else None,
        "messages": [message_payload(message) for message in messages],
    }


def model_name(model_id: int | None) -> str | None:
    """The catalog model as `provider/name`, which means the same on another server (an id does not)."""
    model = LLMModel.objects.select_related("provider").filter(id=model_id).first() if model_id else None
    return f"{model.provider.name}/{model.name}" if model else None


def export_json(conversation: Conversation, messages: list[Message] | None = None) -> str:
    return json.dumps(export_document(conversation, messages), indent=2, ensure_ascii=False)


def export_markdown(conversation: Conversation, messages: list[Message] | None = None) -> str:
    """The branch shown as a transcript; the other branches are in the JSON export."""
    messages = selectors.message_list_all(conversation=conversation) if messages is None else messages
    lines = [f"# {conversation.title}", "", f"- Owner: {conversation.owner.get_username()}"]
    lines += [f"- Created: {conversation.created_at.isoformat()}", ""]
    if conversation.system_prompt:
        lines += ["## System prompt", "", conversation.system_prompt, ""]
    for message in tree.active_path(messages, conversation.active_leaf_id):
        heading = f"## {message.role.capitalize()}"
        if message.status != Message.Status.COMPLETE:
            heading += f" ({message.status})"
        if message.sibling_count > 1:
            heading += f" · version {message.sibling_index + 1} of {message.sibling_count}"
        lines += [heading, ""]
        for part in parts_view(message.parts, message.content):
            lines += [*markdown_part(part), ""]
        if message.error:
            lines += [f"> Error: {message.error}", ""]
    return "\n".join(lines)


def markdown_part(part: dict[str, Any]) -> list[str]:
    kind = part.get("type")
    if kind == "text":
        return [part["text"]]
    if kind == "tool_call":
        cut = " (cut off while written)" if part.get("partial") else ""
        return [f"**Tool call** `{part.get('name', '')}`{cut}", "", fenced(str(part.get("arguments", "")))]
    if kind == "tool_result":
        failed = " (failed)" if part.get("is_error") else ""
        return [f"**Tool result** `{part.get('name', '')}`{failed}", "", fenced(str(part.get("content", "")))]
    return [f"*Attached {kind}: {part.get('name', '')}*"]


def fenced(text: str) -> str:
    """A code block whose fence is longer than any run of backticks inside it."""
    fence = "`" * max(3, max_backticks(text) + 1)
    return f"{fence}\n{text}\n{fence}"


def max_backticks(text: str) -> int:
    longest = current = 0
    for character in text:
        current = current + 1 if character == "`" else 0
        longest = max(longest, current)
    return longest


def file_stem(conversation: Conversation) -> str:
    return f"conversation-{conversation.id}"


def export_archive(conversations: Iterable[Conversation]) -> bytes:
    """The "export all" zip: manifest.json, then each conversation as JSON and as Markdown."""
    listed = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for conversation in conversations:
            stem = f"conversations/{file_stem(conversation)}"
            messages = selectors.message_list_all(conversation=conversation)
            archive.writestr(f"{stem}.json", export_json(conversation, messages))
            archive.writestr(f"{stem}.md", export_markdown(conversation, messages))
            listed.append({"id": str(conversation.id), "title": conversation.title, "json": f"{stem}.json"})
        manifest = {
            "format": ARCHIVE_FORMAT,
            "version": VERSION,
            "exported_at": timezone.now().isoformat(),
            "conversations": listed,
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    return buffer.getvalue()
