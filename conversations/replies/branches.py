"""The tree's other starts: edit a user message, regenerate a reply, continue an interrupted one.

Each adds messages (never deletes) under the same transaction and refusals as a plain start.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import storage_limits, tree
from ..models import Conversation, Message, Regeneration
from .prompt import history
from .rows import new_pair, new_reply, touched
from .rules import ReplyRefused, refuse_at_cap, refuse_if_over_budget, refuse_if_streaming, reply_model, store_text
from .start import (
    ReplyStart,
    Turn,
    answer,
    conversation_pk,
    database,
    existing_request,
    lock_conversations,
    read_turns,
    streaming_counts,
)

Status = Message.Status


def reply_edit(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    message_id: uuid.UUID | str,
    content: str,
    request_id: str,
    worker: str,
) -> ReplyStart:
    """Save a sibling of a user message on the branch shown, with the new text, and stream a reply
    to it; the edited message and everything after it stay in the tree as another branch."""
    with transaction.atomic(using=database()):
        conversation, turns, existing = open_request(user, conversation_id, request_id)
        if existing:
            return existing
        path = tree.active_path(turns, conversation.active_leaf_id)
        edited = _on_path(turns, path, message_id, Message.Role.USER, "edit")
        model = reply_model(user, conversation, None)
        store_text(user, content)
        before = path[: path.index(edited)]
        pair = new_pair(conversation, turns, before, content, request_id, worker, model)
        Message.objects.bulk_create(pair)
        touch(conversation, leaf=pair[1].id, first_message=content)
        return answer(conversation, turns, before, pair, model, replaces=edited)


def reply_regenerate(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    request_id: str | None,
    worker: str,
    message_id: uuid.UUID | str | None = None,
) -> ReplyStart:
    """Add a new streaming sibling of an assistant reply on the branch shown (the last one unless
    `message_id` names another), once per request_id; the earlier reply is kept."""
    request_id = request_id or uuid.uuid4().hex
    with transaction.atomic(using=database()):
        conversation, turns, existing = open_request(user, conversation_id, request_id, regenerate=True)
        if existing:
            return existing
        path = tree.active_path(turns, conversation.active_leaf_id)
        if message_id is not None:
            previous = _on_path(turns, path, message_id, Message.Role.ASSISTANT, "regenerate")
        elif path and path[-1].role == Message.Role.ASSISTANT:
            previous = path[-1]
        else:
            raise ReplyRefused("nothing_to_regenerate", "There is no assistant reply to regenerate.")
        model = reply_model(user, conversation, None)
        Regeneration.objects.create(conversation=conversation, request_id=request_id)
        before = path[: path.index(previous)]
        reply = new_reply(conversation, previous.parent_id, turns[-1].position + 1, request_id, worker, model)
        reply.save(force_insert=True)
        touch(conversation, leaf=reply.id)
        tree.added_sibling(reply, tree.sibling_ids(turns, previous.parent_id))
        return ReplyStart(reply=reply, history=history(conversation, before), model=model, replaces=str(previous.id))


def _on_path(turns: list[Turn], path: list[Turn], message_id: uuid.UUID | str, role: str, action: str) -> Turn:
    """The message a request names, which must be one of `role` on the branch shown."""
    target = next((turn for turn in path if str(turn.id) == str(message_id)), None)
    if target is None and not any(str(turn.id) == str(message_id) for turn in turns):
        raise ReplyRefused("invalid_field", "message_id names no message of this conversation.")
    if target is None:
        raise ReplyRefused(
            "not_on_active_path",
            f"That message is not on the branch being shown (it may have changed in another tab); cannot {action} it.",
        )
    if target.role != role:
        whose = "your own" if role == Message.Role.USER else "assistant"
        raise ReplyRefused("invalid_field", f"Only {whose} messages can be chosen to {action}.")
    return target


def reply_continue(
    *, user: AbstractBaseUser, conversation_id: uuid.UUID | str, request_id: str | None, worker: str
) -> ReplyStart:
    """Stream the rest of the last reply of the branch shown after an interruption, from its saved
    text; once per request_id. The model is asked with that text as the reply's beginning."""
    request_id = request_id or uuid.uuid4().hex
    with transaction.atomic(using=database()):
        conversation, turns, existing = open_request(user, conversation_id, request_id, regenerate=True)
        if existing:
            return existing
        path = tree.active_path(turns, conversation.active_leaf_id)
        last = path[-1] if path else None
        if last is None or last.role != Message.Role.ASSISTANT or last.status != Status.INTERRUPTED:
            raise ReplyRefused("nothing_to_continue", "Only an interrupted last reply can be continued.")
        model = reply_model(user, conversation, None)
        Regeneration.objects.create(conversation=conversation, request_id=request_id)
        reply = Message.objects.get(id=last.id)
        # Streaming again: its text counts anew, whole, when it is saved finished (storage_limits.store_replies).
        storage_limits.store(user=user, adding=-storage_limits.message_bytes(reply.content, reply.parts))
        reply.conversation = conversation  # the worker reads it (sampling, tools) on the event loop
        reply.status, reply.error, reply.worker = Status.STREAMING, "", worker
        reply.heartbeat_at, reply.finished_at = timezone.now(), None
        reply.save(update_fields=["status", "error", "worker", "heartbeat_at", "finished_at"])
        touch(conversation, leaf=reply.id)
        tree.annotate([reply], turns)
        return ReplyStart(reply=reply, history=history(conversation, path), model=model, continues=True)


def open_request(
    user: AbstractBaseUser, conversation_id: uuid.UUID | str, request_id: str, *, regenerate: bool = False
) -> tuple[Conversation, list[Turn], ReplyStart | None]:
    """Lock the conversation and its owner and read its turns, as a send's start does (start.py); a
    retried request gets its first answer back, and a new one is refused while a reply runs, the
    user is at their cap, over budget, or their stored text is full."""
    locked = lock_conversations([conversation_pk(conversation_id)], owners={user.pk})
    if not locked:
        raise ReplyRefused("not_found", "This conversation does not exist.")
    (conversation,) = locked.values()
    turns = read_turns([conversation.id])[conversation.id]
    existing = existing_request(turns, request_id)
    if existing is None and regenerate and conversation.regenerations.filter(request_id=request_id).exists():
        existing = _regenerated_since(turns)
    if existing is None:
        refuse_if_streaming(turns)
        refuse_at_cap(streaming_counts({user.pk})[user.pk])
        refuse_if_over_budget(user)
        try:
            storage_limits.allow_reply(user=user)
        except storage_limits.QuotaExceeded as refusal:
            raise ReplyRefused(refusal.code, refusal.detail) from None
    return conversation, turns, existing


def _regenerated_since(turns: list[Turn]) -> ReplyStart:
    """A retried regenerate whose reply a later one replaced: answer with the reply there now."""
    reply = next(turn for turn in reversed(turns) if turn.role == Message.Role.ASSISTANT)  # one always remains
    return ReplyStart(reply=Message.objects.get(id=reply.id), history=[], duplicate=True)


def touch(conversation: Conversation, *, leaf: uuid.UUID, first_message: str = "") -> None:
    """Bump recency, show the branch ending at `leaf`, and name a new chat after its first message."""
    fields = {"updated_at": timezone.now(), "active_leaf": leaf}
    if touched(conversation, leaf=leaf, first_message=first_message):
        fields["title"] = conversation.title
    Conversation.objects.filter(id=conversation.id).update(**fields)
