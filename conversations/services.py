"""Writes to conversations. Views and consumers call these and never touch the ORM directly."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from . import generation, protocol, quotas
from .models import Conversation, Message
from .realtime.broadcast import publish_after_commit

TITLE_MAX = Conversation._meta.get_field("title").max_length


@transaction.atomic
def conversation_create(
    *, owner: AbstractBaseUser, title: str = "", model: str = "", system_prompt: str = ""
) -> Conversation:
    """Create it within the owner's limits (quotas.py), or raise QuotaExceeded."""
    quotas.allow_new_conversation(user=owner)
    title = title.strip() or "New chat"
    quotas.store(user=owner, adding=quotas.text_bytes(title, system_prompt))
    return Conversation.objects.create(owner=owner, title=title, model=model, system_prompt=system_prompt)


@transaction.atomic
def conversation_update(*, conversation: Conversation, **fields: str) -> Conversation:
    """Change the given editable fields (title, system_prompt) and bump `updated_at`."""
    before = quotas.text_bytes(*(getattr(conversation, name) for name in fields))
    for name, value in fields.items():
        setattr(conversation, name, value.strip() if name == "title" else value)
    after = quotas.text_bytes(*(getattr(conversation, name) for name in fields))
    quotas.store(user=conversation.owner_id, adding=after - before)
    conversation.save(update_fields=[*fields, "updated_at"])
    frame = protocol.conversation_updated_frame(protocol.conversation_payload(conversation))
    publish_after_commit(conversation.id, frame)
    return conversation


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete it, stop its running reply on whichever process runs it, and close its sockets' view."""
    conversation_id = conversation.id
    streaming = list(conversation.messages.filter(status=Message.Status.STREAMING))
    freed = quotas.conversation_bytes(conversation)
    conversation.delete()
    quotas.store(user=conversation.owner_id, adding=-freed)
    for reply in streaming:
        generation.stop_after_commit(reply)
    publish_after_commit(conversation_id, protocol.conversation_deleted_frame(str(conversation_id)))
