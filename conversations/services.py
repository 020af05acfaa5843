"""Writes to conversations. Views and consumers call these and never touch the ORM directly."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from . import generation, protocol, replies
from .models import Conversation, Message
from .realtime.broadcast import publish_after_commit

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


@transaction.atomic
def conversation_create_with_turns(
    *, owner: AbstractBaseUser, model: str, system_prompt: str, turns: list[dict[str, str]]
) -> Conversation:
    """A conversation that starts with earlier turns (an API client's history), named after the first."""
    first = next((turn["content"] for turn in turns if turn["role"] == "user"), "")
    title = " ".join(first.split())[: replies.TITLE_FROM_MESSAGE]
    conversation = conversation_create(owner=owner, title=title, model=model, system_prompt=system_prompt)
    Message.objects.bulk_create(
        Message(conversation=conversation, position=position, role=turn["role"], content=turn["content"])
        for position, turn in enumerate(turns)
    )
    return conversation


def conversation_update(*, conversation: Conversation, **fields: str) -> Conversation:
    """Change the given editable fields (title, system_prompt) and bump `updated_at`."""
    for name, value in fields.items():
        setattr(conversation, name, value.strip() if name == "title" else value)
    conversation.save(update_fields=[*fields, "updated_at"])
    frame = protocol.conversation_updated_frame(protocol.conversation_payload(conversation))
    publish_after_commit(conversation.id, frame)
    return conversation


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete it, stop its running reply on whichever process runs it, and close its sockets' view."""
    conversation_id = conversation.id
    streaming = list(conversation.messages.filter(status=Message.Status.STREAMING))
    conversation.delete()
    for reply in streaming:
        generation.stop_after_commit(reply)
    publish_after_commit(conversation_id, protocol.conversation_deleted_frame(str(conversation_id)))
