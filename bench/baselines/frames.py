"""The slice of protocol v1 the baselines speak, as plain dicts: just enough for bench.client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def message(role: str, content: str = "", status: str = "complete", seq: int = 0) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "role": role,
        "content": content,
        "status": status,
        "seq": seq,
        "error": None,
        "model": "sim",
        "usage": None,
        "created_at": datetime.now(UTC).isoformat(),
    }


def snapshot(conversation_id: str) -> dict[str, Any]:
    """Baselines keep no history, so every snapshot is an empty conversation."""
    now = datetime.now(UTC).isoformat()
    conversation = {
        "id": conversation_id,
        "title": "bench",
        "model": "sim",
        "system_prompt": "",
        "created_at": now,
        "updated_at": now,
    }
    return {"type": "conversation.snapshot", "conversation": conversation, "messages": []}


def created(msg: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    return {"type": "message.created", "message": msg, "request_id": request_id}


def delta(message_id: str, seq: int, text: str) -> dict[str, Any]:
    return {"type": "message.delta", "message_id": message_id, "seq": seq, "delta": text}


def completed(msg: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message.completed", "message": msg}


def upstream_request(content: str) -> dict[str, Any]:
    """The OpenAI-compatible body sent to the simulator; the content carries its directives."""
    return {"model": "sim", "stream": True, "messages": [{"role": "user", "content": content}]}
