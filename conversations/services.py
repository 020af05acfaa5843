"""Writes to conversations. Views and consumers call these and never touch the ORM directly."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from . import generation, protocol, replies, selectors, storage_limits, tree
from .models import Conversation, LLMModel, Message, ServerProcess
from .realtime.broadcast import resync_after_commit
from .realtime.owner_updates import announce_after_commit

TITLE_MAX = Conversation._meta.get_field("title").max_length
QUOTA_FIELDS = ("title", "system_prompt")  # the editable fields that count toward PARLEY_MAX_STORED_BYTES_PER_USER
FILING_FIELDS = frozenset({"pinned", "archived"})  # the owner's filing, not activity: `updated_at` stays


@transaction.atomic
def conversation_create(
    *,
    owner: AbstractBaseUser,
    title: str = "",
    model: LLMModel | None = None,
    system_prompt: str = "",
    temperature: float | None = None,
    pinned: bool = False,
    archived: bool = False,
) -> Conversation:
    """Create it within the owner's limits (storage_limits.py), or raise QuotaExceeded."""
    title = title.strip() or "New chat"
    storage_limits.store(user=owner, adding=storage_limits.text_bytes(title, system_prompt))  # locks the count
    storage_limits.allow_new_conversation(user=owner)
    return Conversation.objects.create(
        owner=owner,
        title=title,
        model=model,
        system_prompt=system_prompt,
        temperature=temperature,
        pinned=pinned,
        archived=archived,
    )


@transaction.atomic
def conversation_create_with_turns(
    *, owner: AbstractBaseUser, model: LLMModel, system_prompt: str, turns: list[dict[str, str]]
) -> Conversation:
    """A conversation that starts with earlier turns (an API client's history), named after the first."""
    first = next((turn["content"] for turn in turns if turn["role"] == "user"), "")
    title = " ".join(first.split())[: replies.TITLE_FROM_MESSAGE]
    conversation = conversation_create(owner=owner, title=title, model=model, system_prompt=system_prompt)
    written = storage_limits.text_bytes(*(turn["content"] for turn in turns))
    storage_limits.store(user=owner, adding=written)
    Message.objects.bulk_create(
        Message(conversation=conversation, position=position, role=turn["role"], content=turn["content"])
        for position, turn in enumerate(turns)
    )
    return conversation


@transaction.atomic
def conversation_update(*, conversation: Conversation, **fields: Any) -> Conversation:
    """Change the given editable fields (title, system_prompt, model, temperature, pinned, archived);
    every open tab of the owner hears of it through `conversation.updated`. Text counts toward the
    owner's quota. Any change but pinning or archiving alone bumps `updated_at`."""
    before = _stored_text_bytes(conversation, fields)
    for name, value in fields.items():
        setattr(conversation, name, value.strip() if name == "title" else value)
    storage_limits.store(user=conversation.owner_id, adding=_stored_text_bytes(conversation, fields) - before)
    activity = [] if FILING_FIELDS.issuperset(fields) else ["updated_at"]
    conversation.save(update_fields=[*fields, *activity])
    frame = protocol.conversation_updated_frame(protocol.conversation_payload(conversation))
    announce_after_commit(conversation_id=conversation.id, owner_id=conversation.owner_id, frame=frame)
    return conversation


def _stored_text_bytes(conversation: Conversation, fields: dict[str, Any]) -> int:
    return storage_limits.text_bytes(*(getattr(conversation, name) for name in fields if name in QUOTA_FIELDS))


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete it, stop its running reply on whichever process runs it, and close its sockets' view."""
    conversation_id = conversation.id
    streaming = list(conversation.messages.filter(status=Message.Status.STREAMING))
    freed = storage_limits.conversation_bytes(conversation)
    conversation.delete()
    storage_limits.store(user=conversation.owner_id, adding=-freed)
    for reply in streaming:
        generation.stop_after_commit(reply)
    frame = protocol.conversation_deleted_frame(str(conversation_id))
    announce_after_commit(conversation_id=conversation_id, owner_id=conversation.owner_id, frame=frame)


@transaction.atomic
def branch_select(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str, message_id: str) -> None:
    """Show the branch through this message (down to its newest leaf) in every open tab.

    The conversation row is locked like a reply start locks it, so a select and a start in two
    processes apply one after the other. Choosing a branch is viewing: `updated_at` stays.
    """
    conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    if conversation is None:
        raise generation.Refused("not_found", "This conversation does not exist.")
    conversation = Conversation.objects.select_for_update().get(id=conversation.id)
    nodes = selectors.message_tree(conversation=conversation)
    leaf = tree.newest_leaf(nodes, uuid.UUID(message_id))
    if leaf is None:
        raise generation.Refused("invalid_field", "message_id names no message of this conversation.")
    Conversation.objects.filter(id=conversation.id).update(active_leaf=leaf.id)
    resync_after_commit(conversation.id)


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
