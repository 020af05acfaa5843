"""Conversation exports for admins: a JSON document and a readable Markdown transcript."""

from __future__ import annotations

import json

from .models import Conversation, Message
from .protocol import conversation_payload, message_payload


def export_json(conversation: Conversation) -> str:
    messages = [message_payload(message) for message in conversation.messages.order_by("position")]
    document = {**conversation_payload(conversation), "owner": conversation.owner.get_username(), "messages": messages}
    return json.dumps(document, indent=2, ensure_ascii=False)


def export_markdown(conversation: Conversation) -> str:
    lines = [f"# {conversation.title}", "", f"- Owner: {conversation.owner.get_username()}"]
    lines += [f"- Created: {conversation.created_at.isoformat()}", ""]
    if conversation.system_prompt:
        lines += ["## System prompt", "", conversation.system_prompt, ""]
    for message in conversation.messages.order_by("position"):
        heading = f"## {message.role.capitalize()}"
        if message.status != Message.Status.COMPLETE:
            heading += f" ({message.status})"
        lines += [heading, "", message.content, ""]
        if message.error:
            lines += [f"> Error: {message.error}", ""]
    return "\n".join(lines)
