"""Read queries. Every lookup by id is scoped to its owner, so a stranger's id reads as missing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from .catalog.environment import ensure_catalog
from .models import Conversation, LLMModel, Message, ServerProcess, UsageRecord


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


def conversation_get_any(*, conversation_id: uuid.UUID | str) -> Conversation | None:
    """Any user's conversation with this id: for operators only (the live console), never for owners."""
    try:
        return Conversation.objects.select_related("owner").get(id=conversation_id)
    except (Conversation.DoesNotExist, ValidationError, ValueError):
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


def conversation_with_messages_any(*, conversation_id: uuid.UUID | str) -> tuple[Conversation, list[Message]] | None:
    """Any user's conversation and its messages: for operators only (the live console)."""
    conversation = conversation_get_any(conversation_id=conversation_id)
    return None if conversation is None else (conversation, message_list(conversation=conversation))


def streaming_reply(*, conversation: Conversation) -> Message | None:
    """The reply being generated in this conversation right now, if any."""
    return conversation.messages.filter(status=Message.Status.STREAMING).first()


def conversation_owners(*, conversation_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Each conversation's owner's username and its title, for the live console's rows."""
    rows = Conversation.objects.filter(id__in=conversation_ids).values_list("id", "owner__username", "title")
    return {str(conversation_id): (username, title) for conversation_id, username, title in rows}


def server_process_list() -> list[ServerProcess]:
    """Every process that ever heartbeated and is not yet pruned, the most recently alive first."""
    return list(ServerProcess.objects.order_by("-heartbeat_at"))


def models_for_user(*, user: AbstractBaseUser) -> QuerySet[LLMModel]:
    """The enabled models this user may use: those open to everyone, and those open to one of their groups.

    The one access rule for every surface (socket, JSON API, OpenAI-compatible API). An empty catalog
    is first filled from the LLM_* settings (catalog/environment.py), so a fresh install has a model.
    """
    ensure_catalog()
    open_to_user = Q(allowed_groups__isnull=True) | Q(allowed_groups__in=user.groups.values("id"))
    return LLMModel.objects.filter(open_to_user, enabled=True).select_related("provider").distinct()


def usable_model(*, user: AbstractBaseUser, model_id: object) -> LLMModel | None:
    """The model with this id if this user may use it now; None if it is missing, disabled or not theirs."""
    if isinstance(model_id, bool) or not isinstance(model_id, int | str):
        return None
    try:
        return models_for_user(user=user).get(id=int(model_id))
    except (LLMModel.DoesNotExist, ValueError):
        return None


def task_model() -> LLMModel | None:
    """The model that writes titles (PARLEY_TASK_MODEL, "provider/name"); None means each reply's own."""
    provider, _, name = settings.PARLEY_TASK_MODEL.partition("/")
    if not name:
        return None
    return LLMModel.objects.select_related("provider").filter(provider__name=provider, name=name).first()


def default_model(*, user: AbstractBaseUser) -> LLMModel | None:
    """The model a conversation without one uses: the default if this user may use it, else their first."""
    usable = models_for_user(user=user)
    return usable.filter(is_default=True).first() or usable.first()


def usage_by_day(*, records: QuerySet[UsageRecord], since: datetime) -> list[dict[str, Any]]:
    """Tokens and cost per day and model since `since`, oldest first: the usage page's and admin's rows."""
    return list(
        records.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "model_label")
        .annotate(
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost_usd=Sum("cost_usd"),
            replies=Count("id"),
        )
        .order_by("day", "model_label")
    )
