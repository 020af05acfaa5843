"""The rows a start adds: the user's message and its streaming reply, unsaved, and the
conversation's recency, branch and title as they change with them."""

from __future__ import annotations

import uuid

from django.utils import timezone

from ..attachments.services import attachment_part
from ..models import Conversation, LLMModel, Message, Upload
from ..parts import text_part

TITLE_FROM_MESSAGE = 60


def attach(conversation: Conversation, message: Message, uploads: list[Upload]) -> None:
    """The uploads now belong to the message; the conversation is marked so prompts look for files."""
    Upload.objects.filter(id__in=[u.id for u in uploads]).update(message=message)
    if not conversation.has_attachments:
        Conversation.objects.filter(id=conversation.id).update(has_attachments=True)
        conversation.has_attachments = True


def new_pair(conversation, turns, path, content, request_id, worker, model, uploads=()) -> tuple[Message, Message]:
    """The unsaved user message after `path` (a new branch when the path's end has children) and its reply."""
    parent_id = path[-1].id if path else None
    position = turns[-1].position + 1 if turns else 0
    user_message = Message(
        conversation=conversation,
        parent_id=parent_id,
        position=position,
        role=Message.Role.USER,
        content=content,
        parts=([text_part(content)] if content else []) + [attachment_part(u) for u in uploads],
        request_id=request_id,
    )
    return user_message, new_reply(conversation, user_message.id, position + 1, request_id, worker, model)


def new_reply(
    conversation: Conversation,
    parent_id: uuid.UUID | None,
    position: int,
    request_id: str,
    worker: str,
    model: LLMModel,
) -> Message:
    """An unsaved streaming reply, named after the upstream model it asks for."""
    now = timezone.now()
    return Message(
        conversation=conversation,
        parent_id=parent_id,
        position=position,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        request_id=request_id,
        model=model.name,
        catalog_model=model,
        started_at=now,
        worker=worker,
        heartbeat_at=now,
    )


def first_words(content: str, uploads) -> str:
    """What a new chat is named after: its first message, else its first file."""
    return content or (uploads[0].name if uploads else "")


def touched(conversation: Conversation, *, leaf: uuid.UUID, first_message: str = "") -> bool:
    """Set recency and the branch shown on the instance; True when a new chat got its title from `first_message`."""
    conversation.updated_at, conversation.active_leaf_id = timezone.now(), leaf
    if first_message and conversation.title == "New chat":
        conversation.title = " ".join(first_message.split())[:TITLE_FROM_MESSAGE] or "New chat"
        return True
    return False
