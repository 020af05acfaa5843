"""The JSON shapes shared by the HTTP API and WebSocket protocol v1."""

from __future__ import annotations

from typing import Any

from .models import Conversation, Message


def message_payload(message: Message) -> dict[str, Any]:
    """A message object exactly as protocol v1 defines it."""
    return {
        "id": str(message.id),
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "seq": message.seq,
        "error": message.error or None,
        "model": message.model or None,
        "usage": message.usage,
        "created_at": message.created_at.isoformat(),
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """A conversation's own fields, without its messages."""
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "model": conversation.model or None,
        "system_prompt": conversation.system_prompt,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }
