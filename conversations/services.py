"""Writes to conversations. Views and consumers call these and never touch the ORM directly."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .models import Conversation
from .payloads import conversation_payload
from .realtime.notify import notify_after_commit

TITLE_MAX = Conversation._meta.get_field("title").max_length


def conversation_create(
    *, owner: AbstractBaseUser, title: str = "", model: str = "", system_prompt: str = ""
) -> Conversation:
    return Conversation.objects.create(
        owner=owner,
        title=title.strip() or "New chat",
        model=model,
        system_prompt=system_prompt,
    )


def conversation_update(*, conversation: Conversation, **fields: str) -> Conversation:
    """Change the given editable fields (title, system_prompt) and bump `updated_at`."""
    for name, value in fields.items():
        setattr(conversation, name, value.strip() if name == "title" else value)
    conversation.save(update_fields=[*fields, "updated_at"])
    notify_after_commit(
        conversation.id, {"type": "conversation.updated", "conversation": conversation_payload(conversation)}
    )
    return conversation


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    conversation_id = conversation.id
    conversation.delete()
    notify_after_commit(conversation_id, {"type": "conversation.deleted", "conversation_id": str(conversation_id)})
