"""Saving imported conversations: all of them in one transaction, within the owner's quotas, or none."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import selectors, storage_limits, tree
from ..models import Conversation, LLMModel, Message
from .shapes import ImportedConversation, ImportedMessage

BATCH = 500  # messages per INSERT: bounded statements for long conversations


@transaction.atomic
def conversations_import(*, owner: AbstractBaseUser, conversations: list[ImportedConversation]) -> list[Conversation]:
    """Create every conversation with its whole tree; a quota passed raises QuotaExceeded and saves nothing.

    New ids are given (the file's may exist here already). Each conversation is a chat start logged
    against PARLEY_MAX_CONVERSATIONS_PER_HOUR, made at the import's time; its messages keep their times.
    """
    storage_limits.store(user=owner, adding=sum(stored_bytes(imported) for imported in conversations))  # locks
    storage_limits.allow_new_conversations(user=owner, count=len(conversations))
    return [conversation_import(owner=owner, imported=imported) for imported in conversations]


def stored_bytes(imported: ImportedConversation) -> int:
    """What the import adds to the owner's stored text: the counted fields and every message, replies
    with their tool parts, as storage_limits counts a chat's when it is deleted."""
    messages = (storage_limits.message_bytes(message.content, message.parts) for message in imported.messages)
    return storage_limits.text_bytes(imported.title, imported.system_prompt) + sum(messages)


def conversation_import(*, owner: AbstractBaseUser, imported: ImportedConversation) -> Conversation:
    conversation = Conversation.objects.create(
        owner=owner,
        title=imported.title,
        system_prompt=imported.system_prompt,
        temperature=imported.temperature,
        model=usable_model(owner, imported.model_name),
        pinned=imported.pinned,
        archived=imported.archived,
        has_tool_calls=any(part.get("type") == "tool_call" for m in imported.messages for part in m.parts or ()),
    )
    messages = new_messages(conversation, imported.messages)
    Message.objects.bulk_create(messages, batch_size=BATCH)
    ids = {source.key: message.id for message, source in zip(messages, imported.messages, strict=True)}
    leaf = tree.newest_leaf(messages, ids.get(imported.active_leaf)) if messages else None
    conversation.active_leaf_id = leaf.id if leaf else None
    conversation.updated_at = imported.updated_at or conversation.updated_at
    Conversation.objects.filter(id=conversation.id).update(  # an update: save() would stamp updated_at now
        active_leaf=conversation.active_leaf_id, updated_at=conversation.updated_at
    )
    return conversation


def new_messages(conversation: Conversation, imported: list[ImportedMessage]) -> list[Message]:
    """Rows with new ids, in the file's order (parents first) as their positions; a missing time is
    the parent's, else now."""
    ids = {message.key: uuid.uuid4() for message in imported}
    times = {}
    rows = []
    for position, source in enumerate(imported):
        source.created_at = source.created_at or times.get(source.parent) or timezone.now()
        times[source.key] = source.created_at
        rows.append(
            Message(
                id=ids[source.key],
                conversation=conversation,
                parent_id=ids.get(source.parent),
                position=position,
                role=source.role,
                content=source.content,
                parts=source.parts,
                created_at=source.created_at,
                status=source.status,
                seq=source.seq,
                error=source.error,
                model=source.model,
                prompt_tokens=source.prompt_tokens,
                completion_tokens=source.completion_tokens,
                cost_usd=source.cost_usd,
                usage_estimated=source.usage_estimated,
            )
        )
    return rows


def usable_model(owner: AbstractBaseUser, model_name: str | None) -> LLMModel | None:
    """The catalog model named `provider/name`, when this owner may use it; else the default (None)."""
    provider, _, name = (model_name or "").partition("/")
    if not name:
        return None
    return selectors.models_for_user(user=owner).filter(provider__name=provider, name=name).first()
