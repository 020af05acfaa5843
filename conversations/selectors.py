"""Read queries. Every lookup by id is scoped to its owner, so a stranger's id reads as missing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from . import tree
from .catalog.environment import ensure_catalog
from .models import Conversation, LLMModel, Message, ServerProcess, UsageRecord
from .tree import Node

NODE_FIELDS = ("id", "parent_id", "position", "status")


def conversation_list(*, user: AbstractBaseUser, search: str = "", archived: bool = False) -> QuerySet[Conversation]:
    """The user's archived or unarchived conversations, pinned first and then most recently active,
    optionally filtered by title."""
    conversations = Conversation.objects.filter(owner=user, archived=archived).order_by("-pinned", "-updated_at")
    if search:
        conversations = conversations.filter(title__icontains=search)
    return conversations


def conversation_list_all(*, user: AbstractBaseUser) -> QuerySet[Conversation]:
    """Every conversation of the user, whatever list or view hides some, oldest first: "export all"."""
    return Conversation.objects.filter(owner=user).select_related("owner").order_by("created_at", "id")


def conversation_get(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str) -> Conversation | None:
    """The user's conversation with this id, or None if it is missing or someone else's."""
    try:
        return Conversation.objects.get(id=conversation_id, owner=user)
    except (Conversation.DoesNotExist, ValidationError, ValueError):  # a malformed id is just missing
        return None


class ConversationState(NamedTuple):
    """What a client is shown: the branch shown, root first, and the ids of replies streaming on
    other branches (their frames are not about anything this client shows)."""

    conversation: Conversation
    messages: list[Message]
    elsewhere: frozenset[str]


def message_tree(*, conversation: Conversation) -> list[Node]:
    """Every message's place in the tree, without its text."""
    return list(conversation.messages.order_by("position").values_list(*NODE_FIELDS, named=True))


def conversation_get_any(*, conversation_id: uuid.UUID | str) -> Conversation | None:
    """Any user's conversation with this id: for operators only (the live console), never for owners."""
    try:
        return Conversation.objects.select_related("owner").get(id=conversation_id)
    except (Conversation.DoesNotExist, ValidationError, ValueError):
        return None


def message_list(*, conversation: Conversation) -> list[Message]:
    """The branch shown, root first, each message annotated with its siblings."""
    return active_branch(conversation, message_tree(conversation=conversation))


def message_path(*, conversation: Conversation, leaf_id: Any) -> list[Message]:
    """Root first, down to `leaf_id` and no further, annotated with the siblings that existed when
    it was written (created no later than it), as a snapshot froze it; empty when it is missing."""
    nodes = message_tree(conversation=conversation)
    leaf = next((node for node in nodes if node.id == leaf_id), None)
    if leaf is None:
        return []
    then = [node for node in nodes if node.position <= leaf.position]
    path = [node.id for node in tree.path_to(then, leaf_id)]
    rows = conversation.messages.in_bulk(path)
    messages = [rows[message_id] for message_id in path]
    tree.annotate(messages, then)
    return messages


def message_list_all(*, conversation: Conversation) -> list[Message]:
    """Every message of every branch, in creation order, each annotated with its siblings."""
    messages = list(conversation.messages.order_by("position"))
    tree.annotate(messages, messages)
    return messages


def active_branch(conversation: Conversation, nodes: list[Node]) -> list[Message]:
    path = [node.id for node in tree.active_path(nodes, conversation.active_leaf_id)]
    rows = conversation.messages.in_bulk(path)
    messages = [rows[message_id] for message_id in path]
    tree.annotate(messages, nodes)
    return messages


def conversation_with_messages(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str) -> ConversationState | None:
    """The user's conversation and its branch shown, read together (one trip to a worker thread)."""
    conversation = conversation_get(user=user, conversation_id=conversation_id)
    if conversation is None:
        return None
    nodes = message_tree(conversation=conversation)
    messages = active_branch(conversation, nodes)
    shown = {message.id for message in messages}
    elsewhere = frozenset(str(n.id) for n in nodes if n.status == Message.Status.STREAMING and n.id not in shown)
    return ConversationState(conversation, messages, elsewhere)


def streaming_elsewhere(*, conversation: Conversation, shown: list[Message]) -> frozenset[str]:
    """Replies streaming in the conversation but not among the messages shown."""
    streaming = conversation.messages.filter(status=Message.Status.STREAMING).exclude(id__in=[m.id for m in shown])
    return frozenset(str(message_id) for message_id in streaming.values_list("id", flat=True))


def with_siblings(messages: list[Message]) -> list[Message]:
    """Annotate messages read on their own (a swept reply, say) with their siblings."""
    for message in messages:
        nodes = Message.objects.filter(conversation_id=message.conversation_id, parent_id=message.parent_id)
        tree.annotate([message], list(nodes.values_list(*NODE_FIELDS, named=True)))
    return messages


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
    return _open_to(user)


def _open_to(user: AbstractBaseUser) -> QuerySet[LLMModel]:
    open_to_user = Q(allowed_groups__isnull=True) | Q(allowed_groups__in=user.groups.values("id"))
    return LLMModel.objects.filter(open_to_user, enabled=True).select_related("provider").distinct()


def usable_model(*, user: AbstractBaseUser, model_id: object) -> LLMModel | None:
    """The model with this id if this user may use it now; None if it is missing, disabled or not theirs."""
    if isinstance(model_id, bool) or not isinstance(model_id, int | str):
        return None
    try:
        return _open_to(user).get(id=int(model_id))  # an empty catalog has no model to find: not filled here
    except (LLMModel.DoesNotExist, ValueError):
        return None


def task_model() -> LLMModel | None:
    """The model that writes titles (PARLEY_TASK_MODEL, "provider/name"); None means each reply's own."""
    provider, _, name = settings.PARLEY_TASK_MODEL.partition("/")
    if not name:
        return None
    return LLMModel.objects.select_related("provider").filter(provider__name=provider, name=name).first()


def default_model(*, user: AbstractBaseUser) -> LLMModel | None:
    """The model a conversation without one uses: the default if this user may use it, else their first.

    Every start asks this, so the catalog is filled (models_for_user) only when nothing is found."""
    return _default_among(_open_to(user)) or _default_among(models_for_user(user=user))


def _default_among(usable: QuerySet[LLMModel]) -> LLMModel | None:
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
