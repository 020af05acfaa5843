"""Writes to conversations. Views and consumers call these and never touch the ORM directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from . import generation, protocol, replies
from .models import Conversation, LLMModel, Message, ServerProcess
from .realtime.broadcast import publish_after_commit

TITLE_MAX = Conversation._meta.get_field("title").max_length


def conversation_create(
    *,
    owner: AbstractBaseUser,
    title: str = "",
    model: LLMModel | None = None,
    system_prompt: str = "",
    temperature: float | None = None,
) -> Conversation:
    return Conversation.objects.create(
        owner=owner,
        title=title.strip() or "New chat",
        model=model,
        system_prompt=system_prompt,
        temperature=temperature,
    )


@transaction.atomic
def conversation_create_with_turns(
    *, owner: AbstractBaseUser, model: LLMModel, system_prompt: str, turns: list[dict[str, str]]
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


def conversation_update(*, conversation: Conversation, **fields: Any) -> Conversation:
    """Change the given editable fields (title, system_prompt, model, temperature) and bump `updated_at`;
    every open tab hears of it through `conversation.updated`."""
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


def server_process_heartbeat(
    *,
    name: str,
    host: str,
    pid: int,
    started_at: datetime,
    open_sockets: int,
    running_replies: int,
    prune_before: datetime,
) -> None:
    """Record that this process is alive and what it carries; forget processes long silent."""
    ServerProcess.objects.update_or_create(
        name=name,
        defaults={
            "host": host,
            "pid": pid,
            "heartbeat_at": timezone.now(),
            "open_sockets": open_sockets,
            "running_replies": running_replies,
        },
        create_defaults={
            "host": host,
            "pid": pid,
            "started_at": started_at,
            "heartbeat_at": timezone.now(),
            "open_sockets": open_sockets,
            "running_replies": running_replies,
        },
    )
    ServerProcess.objects.filter(heartbeat_at__lt=prune_before).delete()


def admin_log_change(*, user: AbstractBaseUser, objects: list, message: str) -> None:
    """Record an operator's action on each object in the admin's log (LogEntry), with who did it."""
    if objects:
        LogEntry.objects.log_actions(user_id=user.pk, queryset=objects, action_flag=CHANGE, change_message=message)
