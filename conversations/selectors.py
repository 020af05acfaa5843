"""Read queries. Every lookup by id is scoped to its owner, so a stranger's id reads as missing."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .models import Conversation, Message


def conversation_list(*, user: AbstractBaseUser, search: str = "") -> QuerySet[Conversation]:
    """The user's conversations, most recently active first, optionally filtered by title."""
    conversations = Conversation.objects.filter(owner=user).order_by("-updated_at")
    if search:
        conversations = conversations.filter(title__icontains=search)
    return conversations


def conversation_get(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str) -> Conversation | None:
    """The user's conversation with this id, or None if it is missing or someone else's."""
    try:
        return Conversation.objects.get(id=conversation_id, owner=user)
    except (Conversation.DoesNotExist, ValidationError, ValueError):  # a malformed id is just missing
        return None


def message_list(*, conversation: Conversation) -> list[Message]:
    """A conversation's messages in order."""
    return list(conversation.messages.order_by("position"))


def conversation_with_messages(
    *, user: AbstractBaseUser, conversation_id: uuid.UUID | str
) -> tuple[Conversation, list[Message]] | None:
    """The user's conversation and its messages, read together (one trip to a worker thread)."""
    conversation = conversation_get(user=user, conversation_id=conversation_id)
    return None if conversation is None else (conversation, message_list(conversation=conversation))


def streaming_reply(*, conversation: Conversation) -> Message | None:
    """The reply being generated in this conversation right now, if any."""
    return conversation.messages.filter(status=Message.Status.STREAMING).first()
