"""WebSocket protocol v1: validating client frames, and the one place server frames are built.

Pure functions with no I/O, so every rule here is unit-tested without a server. The message
and conversation shapes are shared with the JSON API. docs/protocol.md is the public
description of the same rules.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .parts import parts_view

if TYPE_CHECKING:
    from .models import Conversation, LLMModel, Message

REQUEST_ID_MAX = 100
ATTACHMENTS_MAX = 100  # a frame-level bound; PARLEY_UPLOAD_MAX_FILES is the real limit, checked on send
CLIENT_TYPES = (
    "message.send",
    "generation.stop",
    "message.regenerate",
    "message.continue",
    "message.edit",
    "branch.select",
    "sync",
)
# NUL and the other C0 control characters but tab, line feed and carriage return: no keyboard
# types them, PostgreSQL cannot store NUL at all, and the rest only hide text from readers.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ProtocolError(Exception):
    """A frame that breaks the protocol; answered with an `error` frame, never a crash."""

    def __init__(self, code: str, detail: str, request_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class ClientFrame:
    type: str
    content: str = ""
    request_id: str | None = None
    message_id: str | None = None  # message.edit, branch.select, message.regenerate (extension)
    attachments: tuple[str, ...] = ()  # upload ids (extension of message.send)
    model: int | None = None  # message.send: a catalog model id for this one reply


def parse_client_frame(text: str, *, max_bytes: int) -> ClientFrame:
    """Validate one text frame from a client, or raise ProtocolError naming what is wrong."""
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ProtocolError("frame_too_large", f"Frames may be at most {max_bytes} bytes.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "The frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_json", "A frame must be a JSON object.")
    return client_frame(data)


def client_frame(data: dict[str, Any]) -> ClientFrame:
    """Validate a decoded frame; the JSON API checks its request bodies with the same rules."""
    request_id = _request_id(data)
    frame_type = data.get("type")
    if frame_type not in CLIENT_TYPES:
        raise ProtocolError(
            "unknown_type", f"Unknown frame type; expected one of {', '.join(CLIENT_TYPES)}.", request_id
        )
    if frame_type == "message.send":
        attachments = _attachments(data, request_id)
        content = _content(data, request_id, optional=bool(attachments))
        model = _model(data, request_id)
        return ClientFrame(frame_type, content, _required(request_id, frame_type), attachments=attachments, model=model)
    if frame_type == "message.edit":
        message_id = _message_id(data, request_id, required=True)
        return ClientFrame(frame_type, _content(data, request_id), _required(request_id, frame_type), message_id)
    if frame_type == "branch.select":
        return ClientFrame(frame_type, request_id=request_id, message_id=_message_id(data, request_id, required=True))
    if frame_type == "message.regenerate":
        return ClientFrame(frame_type, request_id=request_id, message_id=_message_id(data, request_id))
    return ClientFrame(frame_type, request_id=request_id)


def _request_id(data: dict[str, Any]) -> str | None:
    value = data.get("request_id")
    if value is None:
        return None
    echo = echoable(value)
    if not isinstance(value, str) or not 1 <= len(value) <= REQUEST_ID_MAX or not _is_unicode(value):
        raise ProtocolError("invalid_field", f"request_id must be a string of 1 to {REQUEST_ID_MAX} characters.", echo)
    if has_forbidden_characters(value):
        raise ProtocolError("invalid", "request_id must not contain NUL or other control characters.", echo)
    return value


def echoable(value: Any) -> str | None:
    """A request_id as an error frame may echo it: any string UTF-8 can carry, even an invalid one,
    so the client learns which of its frames was refused."""
    return value if isinstance(value, str) and _is_unicode(value) else None


def request_id_of(text: str) -> str | None:
    """Best effort: the request_id of a frame refused before validation (rate limits)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return echoable(data.get("request_id")) if isinstance(data, dict) else None


def _required(request_id: str | None, frame_type: str) -> str:
    if request_id is None:
        raise ProtocolError("invalid_field", f"{frame_type} needs a request_id.")
    return request_id


def _message_id(data: dict[str, Any], request_id: str | None, *, required: bool = False) -> str | None:
    """A message's id in its canonical form, so it compares equal to the ids the server sends."""
    value = data.get("message_id")
    if value is None and not required:
        return None
    try:
        if isinstance(value, str) and len(value) <= 36:
            return str(uuid.UUID(value))
    except ValueError:
        pass
    raise ProtocolError("invalid_field", "message_id must be the id of a message.", request_id)


def _attachments(data: dict[str, Any], request_id: str | None) -> tuple[str, ...]:
    value = data.get("attachments", [])
    if not isinstance(value, list) or len(value) > ATTACHMENTS_MAX:
        raise ProtocolError(
            "invalid_field", f"attachments must be a list of at most {ATTACHMENTS_MAX} upload ids.", request_id
        )
    if not all(isinstance(item, str) and 0 < len(item) <= REQUEST_ID_MAX for item in value):
        raise ProtocolError("invalid_field", "attachments must hold upload ids (strings).", request_id)
    return tuple(value)


def _model(data: dict[str, Any], request_id: str | None) -> int | None:
    value = data.get("model")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ProtocolError(
            "invalid_field", "model must be a model id (a whole number from GET /api/models/).", request_id
        )
    return value


def _content(data: dict[str, Any], request_id: str | None, *, optional: bool = False) -> str:
    content = data.get("content", "" if optional else None)
    if not isinstance(content, str):
        raise ProtocolError("invalid_field", "content must be a string.", request_id)
    if not content.strip() and not optional:
        raise ProtocolError("invalid_field", "content must not be empty.", request_id)
    if not _is_unicode(content):
        raise ProtocolError("invalid_field", "content must be valid Unicode text.", request_id)
    if has_forbidden_characters(content):
        raise ProtocolError("invalid", FORBIDDEN_DETAIL.format(name="content"), request_id)
    return content


FORBIDDEN_DETAIL = "{name} contains a NUL or another control character that cannot be stored; remove it and try again."


def has_forbidden_characters(text: str) -> bool:
    """True for text with FORBIDDEN_CHARACTERS; the JSON API checks its fields with the same rule."""
    return FORBIDDEN_CHARACTERS.search(text) is not None


def _is_unicode(text: str) -> bool:
    """False for a lone surrogate escaped in JSON ("\\ud800"): it cannot be stored or sent back as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def message_payload(message: Message) -> dict[str, Any]:
    """A message object exactly as protocol v1 defines it."""
    return {
        "id": str(message.id),
        "parent_id": str(message.parent_id) if message.parent_id else None,
        "sibling_index": message.sibling_index,
        "sibling_count": message.sibling_count,
        "sibling_ids": list(message.sibling_ids) or [str(message.id)],
        "role": message.role,
        "content": message.content,
        "parts": parts_view(message.parts, message.content),
        "status": message.status,
        "seq": message.seq,
        "error": message.error or None,
        "model": message.model or None,
        "usage": message.usage,
        "created_at": message.created_at.isoformat(),
    }


def live_fields(message: Message, content: str, seq: int, preview: list[dict] | None = None) -> dict[str, Any]:
    """A streaming message's fields from its live text: the snapshot's view of a reply in progress,
    with the calls the model is still writing when this process runs it (`preview`)."""
    return {"content": content, "seq": seq, "parts": parts_view(preview or message.parts, content)}


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """A conversation's own fields, without its messages."""
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "model": conversation.model_id,
        "system_prompt": conversation.system_prompt,
        "temperature": conversation.temperature,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }


def model_payload(model: LLMModel) -> dict[str, Any]:
    """A catalog model as GET /api/models/ lists it; its provider only by name."""
    return {
        "id": model.id,
        "label": model.display_name,
        "name": model.name,
        "provider": model.provider.name,
        "default": model.is_default,
        "vision": model.vision,
        "tools": model.tools,
    }


def dumps(frame: dict[str, Any]) -> str:
    """Serialise a server frame once; it is then sent as-is to every subscriber."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def error_frame(code: str, detail: str, request_id: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
    if request_id is not None:
        frame["request_id"] = request_id
    return dumps(frame)


def snapshot_frame(conversation: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    return dumps({"type": "conversation.snapshot", "conversation": conversation, "messages": messages})


def created_frame(message: dict[str, Any], request_id: str | None, replaces: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "message.created", "message": message, "request_id": request_id}
    if replaces:
        frame["replaces"] = replaces
    return dumps(frame)


def delta_frame(message_id: str, seq: int, delta: str) -> str:
    """Built by hand: it is the one frame on the per-flush hot path."""
    text = json.dumps(delta, ensure_ascii=False)
    return f'{{"type":"message.delta","message_id":"{message_id}","seq":{seq},"delta":{text}}}'


def parts_frame(message_id: str, parts: list[dict[str, Any]]) -> str:
    """A streaming reply's stored parts after a tool event (extension); they only ever grow."""
    return dumps({"type": "message.parts", "message_id": message_id, "parts": parts})


def completed_frame(message: dict[str, Any]) -> str:
    return dumps({"type": "message.completed", "message": message})


def conversation_updated_frame(conversation: dict[str, Any]) -> str:
    return dumps({"type": "conversation.updated", "conversation": conversation})


def conversation_deleted_frame(conversation_id: str) -> str:
    return dumps({"type": "conversation.deleted", "conversation_id": conversation_id})


LIVE_SYNC_WORDS = {
    "degraded": "Live sync is down: replies in this tab still arrive; other tabs and devices may lag until it is back.",
    "ok": "Live sync is back.",
}


def connection_status_frame(live_sync: str) -> str:
    """Whether frames from other processes reach this socket ("ok") or only this process's ("degraded")."""
    return dumps({"type": "connection.status", "live_sync": live_sync, "detail": LIVE_SYNC_WORDS[live_sync]})
