"""The database side of a reply's life: start, checkpoint, finish, and orphan recovery.

Every decision that must hold across processes (one generation per conversation, the
per-user cap, idempotent sends) is made here inside one transaction, because the database
is the one place all processes agree on. The three reads that open a start are SQL
(`start_sql.py`); everything else is the ORM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import start_sql
from .models import Conversation, Message, Regeneration
from .start_sql import Turn

Status = Message.Status
TITLE_FROM_MESSAGE = 60
INTERRUPTED_ERROR = "The server stopped while this reply was being written; the text so far was kept."


class ReplyRefused(Exception):
    """The request is valid but cannot run now; `code` is the protocol error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ReplyStart:
    """What a started (or already started) reply needs: its rows and the prompt history."""

    reply: Message
    history: list[dict[str, str]]
    user_message: Message | None = None
    replaces: str | None = None
    duplicate: bool = False


def reply_start(
    *, user: AbstractBaseUser, conversation_id: uuid.UUID | str, content: str, request_id: str, worker: str, model: str
) -> ReplyStart:
    """Save the user's message and an empty streaming reply, unless this request_id already did."""
    with transaction.atomic(using=start_sql.database()):
        conversation, turns, existing = _open_request(user, conversation_id, request_id)
        if existing:
            return existing
        position = turns[-1].position + 1 if turns else 0
        user_message = Message(
            conversation=conversation, position=position, role=Message.Role.USER, content=content, request_id=request_id
        )
        reply = _new_reply(conversation, position + 1, request_id, worker, model)
        Message.objects.bulk_create([user_message, reply])
        _touch(conversation, first_message=content)
        return ReplyStart(
            reply=reply, history=_history(conversation, [*turns, user_message]), user_message=user_message
        )


def reply_regenerate(
    *, user: AbstractBaseUser, conversation_id: uuid.UUID | str, request_id: str | None, worker: str, model: str
) -> ReplyStart:
    """Replace the last assistant reply with a new streaming one, once per request_id."""
    request_id = request_id or uuid.uuid4().hex
    with transaction.atomic(using=start_sql.database()):
        conversation, turns, existing = _open_request(user, conversation_id, request_id, regenerate=True)
        if existing:
            return existing
        if not turns or turns[-1].role != Message.Role.ASSISTANT:
            raise ReplyRefused("nothing_to_regenerate", "There is no assistant reply to regenerate.")
        Regeneration.objects.create(conversation=conversation, request_id=request_id)
        last = turns.pop()
        Message.objects.filter(id=last.id).delete()
        reply = _new_reply(conversation, last.position, request_id, worker, model)
        reply.save(force_insert=True)
        _touch(conversation)
        return ReplyStart(reply=reply, history=_history(conversation, turns), replaces=str(last.id))


def reply_finish(
    *, reply: Message, content: str, seq: int, status: str, error: str = "", model: str = "", usage=None
) -> Message | None:
    """Save a reply's final state, once; None when it was already finished elsewhere (the sweep)."""
    reply.content, reply.seq, reply.status, reply.error = content, seq, status, error
    reply.model = model or reply.model
    reply.prompt_tokens = usage.prompt_tokens if usage else None
    reply.completion_tokens = usage.completion_tokens if usage else None
    reply.finished_at = timezone.now()
    with transaction.atomic():
        finished = Message.objects.filter(id=reply.id, status=Status.STREAMING).update(
            content=reply.content,
            seq=reply.seq,
            status=reply.status,
            error=reply.error,
            model=reply.model,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            finished_at=reply.finished_at,
        )
        if not finished:
            return None
        Conversation.objects.filter(id=reply.conversation_id).update(updated_at=reply.finished_at)
    return reply


def replies_checkpoint(*, states: list[tuple[uuid.UUID, str, int]]) -> None:
    """Save partial text and prove liveness for all of this process's replies in one statement.

    The filter keeps a reply finished meanwhile (here or by the sweep) as it was saved.
    """
    now = timezone.now()
    replies = [Message(id=reply_id, content=content, seq=seq, heartbeat_at=now) for reply_id, content, seq in states]
    Message.objects.filter(status=Status.STREAMING).bulk_update(replies, ["content", "seq", "heartbeat_at"])


def replies_interrupt_orphans(*, stale_before: datetime) -> list[Message]:
    """Mark replies whose process stopped heartbeating as interrupted, keeping their saved text."""
    interrupted = []
    for reply in Message.objects.filter(status=Status.STREAMING, heartbeat_at__lt=stale_before):
        claimed = Message.objects.filter(id=reply.id, status=Status.STREAMING, heartbeat_at__lt=stale_before).update(
            status=Status.INTERRUPTED, error=INTERRUPTED_ERROR, finished_at=timezone.now()
        )
        if claimed:
            reply.refresh_from_db()
            interrupted.append(reply)
    return interrupted


def _open_request(
    user: AbstractBaseUser, conversation_id: uuid.UUID | str, request_id: str, *, regenerate: bool = False
) -> tuple[Conversation, list[Turn], ReplyStart | None]:
    """Lock the conversation and its owner, read its turns; a retried request gets its first answer
    back, and a new one is refused while a reply runs or the user is at their cap."""
    try:
        conversation_id = Conversation._meta.pk.to_python(conversation_id)
    except ValidationError:
        raise ReplyRefused("not_found", "This conversation does not exist.") from None  # a malformed id is missing
    conversation = start_sql.lock_conversation(conversation_id, user.pk)
    if conversation is None:
        raise ReplyRefused("not_found", "This conversation does not exist.")
    turns = start_sql.turns(conversation_id)
    existing = _existing_request(turns, request_id)
    if existing is None and regenerate and conversation.regenerations.filter(request_id=request_id).exists():
        existing = _regenerated_since(turns)
    if existing is None:
        _refuse_if_busy(user, turns)
    return conversation, turns, existing


def _existing_request(turns: list[Turn], request_id: str) -> ReplyStart | None:
    """A retried request gets the reply it started the first time, not a second one."""
    user_message = next((t for t in turns if t.request_id == request_id and t.role == Message.Role.USER), None)
    reply = next((t for t in turns if t.request_id == request_id and t.role == Message.Role.ASSISTANT), None)
    if reply is None and user_message is not None:  # its reply was regenerated: answer with the replacement
        reply = next((t for t in turns if t.position > user_message.position), None)
    if reply is None:
        return None
    first_message = Message.objects.get(id=user_message.id) if user_message else None
    return ReplyStart(reply=Message.objects.get(id=reply.id), history=[], user_message=first_message, duplicate=True)


def _regenerated_since(turns: list[Turn]) -> ReplyStart:
    """A retried regenerate whose reply a later one replaced: answer with the reply there now."""
    reply = next(turn for turn in reversed(turns) if turn.role == Message.Role.ASSISTANT)  # one always remains
    return ReplyStart(reply=Message.objects.get(id=reply.id), history=[], duplicate=True)


def _refuse_if_busy(user: AbstractBaseUser, turns: list[Turn]) -> None:
    if any(turn.status == Status.STREAMING for turn in turns):
        raise ReplyRefused("busy", "A reply is already being generated in this conversation.")
    running = start_sql.streaming_count(user.pk)
    if running >= settings.PARLEY_MAX_GENERATIONS_PER_USER:
        raise ReplyRefused(
            "limit_reached",
            f"You already have {running} replies being generated; wait for one to finish.",
        )


def _new_reply(conversation: Conversation, position: int, request_id: str, worker: str, model: str) -> Message:
    """An unsaved streaming reply for the conversation's own model, else the deployment's."""
    now = timezone.now()
    return Message(
        conversation=conversation,
        position=position,
        role=Message.Role.ASSISTANT,
        status=Status.STREAMING,
        request_id=request_id,
        model=conversation.model or model,
        started_at=now,
        worker=worker,
        heartbeat_at=now,
    )


def _touch(conversation: Conversation, first_message: str = "") -> None:
    """Bump recency, and name a new chat after its first message."""
    fields = {"updated_at": timezone.now()}
    if first_message and conversation.title == "New chat":
        fields["title"] = " ".join(first_message.split())[:TITLE_FROM_MESSAGE] or "New chat"
    Conversation.objects.filter(id=conversation.id).update(**fields)
    for name, value in fields.items():
        setattr(conversation, name, value)


def _history(conversation: Conversation, turns: list[Turn | Message]) -> list[dict[str, str]]:
    """The prompt for the model: system prompt, then every earlier turn that has text."""
    history: list[dict[str, str]] = []
    if conversation.system_prompt:
        history.append({"role": "system", "content": conversation.system_prompt})
    history += [{"role": turn.role, "content": turn.content} for turn in turns if turn.content]
    return history
