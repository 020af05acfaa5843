"""The database side of a reply's life: start, checkpoint, finish, and orphan recovery.

Every decision that must hold across processes (one generation per conversation, the
per-user cap, idempotent sends) is made here inside one transaction, because the database
is the one place all processes agree on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from .llm.base import ChatMessage
from .models import Conversation, Message, Regeneration

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
    history: list[ChatMessage]
    user_message: Message | None = None
    replaces: str | None = None
    duplicate: bool = False


def reply_start(
    *, user: AbstractBaseUser, conversation_id: uuid.UUID, content: str, request_id: str, worker: str, model: str
) -> ReplyStart:
    """Save the user's message and an empty streaming reply, unless this request_id already did."""
    with transaction.atomic():
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
    *, user: AbstractBaseUser, conversation_id: uuid.UUID, request_id: str | None, worker: str, model: str
) -> ReplyStart:
    """Replace the last assistant reply with a new streaming one, once per request_id."""
    request_id = request_id or uuid.uuid4().hex
    with transaction.atomic():
        conversation, turns, existing = _open_request(user, conversation_id, request_id, regenerate=True)
        if existing:
            return existing
        if not turns or turns[-1].role != Message.Role.ASSISTANT:
            raise ReplyRefused("nothing_to_regenerate", "There is no assistant reply to regenerate.")
        Regeneration.objects.create(conversation=conversation, request_id=request_id)
        last = turns.pop()
        replaced = str(last.id)
        last.delete()
        reply = _new_reply(conversation, last.position, request_id, worker, model)
        reply.save(force_insert=True)
        _touch(conversation)
        return ReplyStart(reply=reply, history=_history(conversation, turns), replaces=replaced)


def reply_finish(
    *, reply: Message, content: str, seq: int, status: str, error: str = "", model: str = "", usage=None
) -> Message | None:
    """Save a reply's final state, once; None when it was already finished elsewhere (the sweep)."""
    reply.content, reply.seq, reply.status, reply.error = content, seq, status, error
    reply.model = model or reply.model
    reply.prompt_tokens = usage.prompt_tokens if usage else None
    reply.completion_tokens = usage.completion_tokens if usage else None
    reply.finished_at = timezone.now()
    fields = ["content", "seq", "status", "error", "model", "prompt_tokens", "completion_tokens", "finished_at"]
    updated = Message.objects.filter(id=reply.id, status=Status.STREAMING).update(
        **{field: getattr(reply, field) for field in fields}
    )
    if not updated:
        return None
    Conversation.objects.filter(id=reply.conversation_id).update(updated_at=reply.finished_at)
    return reply


def replies_checkpoint(*, states: list[tuple[uuid.UUID, str, int]]) -> None:
    """Save partial text and prove liveness for all of this process's replies in one batch.

    Plain parameterised SQL through executemany (pipelined by psycopg): the ORM's bulk_update
    builds a CASE expression per row in Python, which held the GIL long enough to show up as
    latency spikes on the streaming event loop (docs/performance.md).
    """
    field = Message._meta.get_field
    names = [
        connection.ops.quote_name(field(name).column) for name in ("content", "seq", "heartbeat_at", "id", "status")
    ]
    sql = (
        f"UPDATE {connection.ops.quote_name(Message._meta.db_table)} SET {names[0]} = %s, {names[1]} = %s, "
        f"{names[2]} = %s WHERE {names[3]} = %s AND {names[4]} = %s"
    )
    now = field("heartbeat_at").get_db_prep_value(timezone.now(), connection)
    id_field = field("id")
    rows = [
        (content, seq, now, id_field.get_db_prep_value(reply_id, connection), Status.STREAMING.value)
        for reply_id, content, seq in states
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


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
    user: AbstractBaseUser, conversation_id: uuid.UUID, request_id: str, *, regenerate: bool = False
) -> tuple[Conversation, list[Message], ReplyStart | None]:
    """Lock the conversation and read its turns; a retried request gets its first answer back,
    and a new one is refused while a reply runs or the user is at their cap."""
    conversation = _locked_conversation(user, conversation_id)
    turns = list(conversation.messages.order_by("position"))
    existing = _existing_request(turns, request_id)
    if existing is None and regenerate and conversation.regenerations.filter(request_id=request_id).exists():
        existing = _regenerated_since(turns)
    if existing is None:
        _refuse_if_busy(user, turns)
    return conversation, turns, existing


def _locked_conversation(user: AbstractBaseUser, conversation_id: uuid.UUID) -> Conversation:
    # Locking the owner too serialises the per-user cap check across all of their conversations;
    # one query takes both row locks.
    conversation = (
        Conversation.objects.select_related("owner")
        .select_for_update(of=("self", "owner"))
        .filter(id=conversation_id, owner=user)
        .first()
    )
    if conversation is None:
        raise ReplyRefused("not_found", "This conversation does not exist.")
    return conversation


def _existing_request(turns: list[Message], request_id: str) -> ReplyStart | None:
    """A retried request gets the reply it started the first time, not a second one."""
    user_message = next((m for m in turns if m.request_id == request_id and m.role == Message.Role.USER), None)
    reply = next((m for m in turns if m.request_id == request_id and m.role == Message.Role.ASSISTANT), None)
    if reply is None and user_message is not None:  # its reply was regenerated: answer with the replacement
        reply = next((m for m in turns if m.position > user_message.position), None)
    if reply is None:
        return None
    return ReplyStart(reply=reply, history=[], user_message=user_message, duplicate=True)


def _regenerated_since(turns: list[Message]) -> ReplyStart:
    """A retried regenerate whose reply a later one replaced: answer with the reply there now."""
    reply = next(turn for turn in reversed(turns) if turn.role == Message.Role.ASSISTANT)  # one always remains
    return ReplyStart(reply=reply, history=[], duplicate=True)


def _refuse_if_busy(user: AbstractBaseUser, turns: list[Message]) -> None:
    if any(turn.status == Status.STREAMING for turn in turns):
        raise ReplyRefused("busy", "A reply is already being generated in this conversation.")
    running = Message.objects.filter(conversation__owner=user, status=Status.STREAMING).count()
    if running >= settings.PARLEY_MAX_GENERATIONS_PER_USER:
        raise ReplyRefused(
            "limit_reached",
            f"You already have {running} replies being generated; wait for one to finish.",
        )


def _new_reply(conversation: Conversation, position: int, request_id: str, worker: str, model: str) -> Message:
    """An unsaved streaming reply; callers insert it together with what precedes it."""
    now = timezone.now()
    return Message(
        conversation=conversation,
        position=position,
        role=Message.Role.ASSISTANT,
        status=Status.STREAMING,
        request_id=request_id,
        model=model,
        started_at=now,
        worker=worker,
        heartbeat_at=now,
    )


def _touch(conversation: Conversation, first_message: str = "") -> None:
    """Bump recency, and name a new chat after its first message."""
    fields = ["updated_at"]
    if first_message and conversation.title == "New chat":
        conversation.title = " ".join(first_message.split())[:TITLE_FROM_MESSAGE] or "New chat"
        fields.append("title")
    conversation.save(update_fields=fields)


def _history(conversation: Conversation, turns: list[Message]) -> list[ChatMessage]:
    """The prompt for the model: system prompt, then every earlier turn that has text."""
    history: list[ChatMessage] = []
    if conversation.system_prompt:
        history.append({"role": "system", "content": conversation.system_prompt})
    history += [{"role": turn.role, "content": turn.content} for turn in turns if turn.content]
    return history
