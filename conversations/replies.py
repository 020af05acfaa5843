"""The database side of a reply's life: start, checkpoint, finish, and orphan recovery.

Every decision that must hold across processes (one generation per conversation, the
per-user cap, idempotent sends) is made here inside one transaction, because the database
is the one place all processes agree on.

The statements every reply runs, at its start (lock the conversation and its owner, read its turns,
count the owner's streaming replies, insert the two messages, bump the conversation), at its finish
and in each checkpoint, are SQL at the end of this module: through the ORM they cost more server CPU
per token, first-token delay and latency than the performance budget allows (docs/performance.md).
Everything else (regenerate, the orphan sweep) uses the ORM. The SQL takes its table and column
names from the models and runs on the database the router picks for writing messages.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.utils import timezone

from . import quotas, selectors, storage_limits, titles, tree
from .attachments.services import AttachmentRefused, attachment_part, refs_by_message, uploads_claim
from .models import ApiCall, Conversation, LLMModel, Message, Regeneration, Upload, UsageRecord
from .parts import parts_view, text_part

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
    """What a started (or already started) reply needs: its rows, the prompt history and its model."""

    reply: Message
    history: list[dict[str, str]]
    model: LLMModel | None = None  # None only for a duplicate, which starts nothing
    user_message: Message | None = None
    replaces: str | None = None
    duplicate: bool = False
    continues: bool = False  # the reply is an interrupted one streaming again, after its saved text


def reply_start(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    content: str,
    request_id: str,
    worker: str,
    model_id: int | None = None,
    attachments: tuple[str, ...] = (),
) -> ReplyStart:
    """Save the user's message at the end of the branch shown and an empty streaming reply to it,
    unless this request_id already did.

    `model_id` picks the model for this one reply instead of the conversation's."""
    with transaction.atomic(using=_database()):
        conversation, turns, existing = _open_request(user, conversation_id, request_id)
        if existing:
            return existing
        model = _reply_model(user, conversation, model_id)
        _store_text(user, content)
        uploads = _claim(user, attachments, model)
        path = tree.active_path(turns, conversation.active_leaf_id)
        return _branch(conversation, turns, path, content, request_id, worker, model, uploads=uploads)


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
    with transaction.atomic(using=_database()):
        conversation, turns, existing = _open_request(user, conversation_id, request_id)
        if existing:
            return existing
        path = tree.active_path(turns, conversation.active_leaf_id)
        edited = _on_path(turns, path, message_id, Message.Role.USER, "edit")
        model = _reply_model(user, conversation, None)
        _store_text(user, content)
        before = path[: path.index(edited)]
        return _branch(conversation, turns, before, content, request_id, worker, model, replaces=edited)


def _store_text(user: AbstractBaseUser, content: str) -> None:
    """Refuse a message that would take its owner past their stored-bytes quota."""
    try:
        storage_limits.store(user=user, adding=storage_limits.text_bytes(content))
    except storage_limits.QuotaExceeded as refusal:
        raise ReplyRefused(refusal.code, refusal.detail) from None


def _branch(conversation, turns, path, content, request_id, worker, model, *, uploads=(), replaces=None):
    """A user message after `path` (a new branch when the path's end has children) and its reply."""
    parent_id = path[-1].id if path else None
    position = turns[-1].position + 1 if turns else 0
    user_message = Message(
        conversation=conversation,
        parent_id=parent_id,
        position=position,
        role=Message.Role.USER,
        content=content,
        parts=([text_part(content)] if content else []) + [attachment_part(u) for u in uploads],
        request_id=request_id,
    )
    reply = _new_reply(conversation, user_message.id, position + 1, request_id, worker, model)
    _insert([user_message, reply])
    if uploads:
        _attach(conversation, user_message, uploads)  # before the history is read, which includes them
    _touch(conversation, leaf=reply.id, first_message=content or (uploads[0].name if uploads else ""))
    tree.added_sibling(user_message, tree.sibling_ids(turns, parent_id))
    tree.added_sibling(reply, ())
    return ReplyStart(
        reply=reply,
        history=_history(conversation, [*path, user_message]),
        model=model,
        user_message=user_message,
        replaces=str(replaces.id) if replaces else None,
    )


def _claim(user: AbstractBaseUser, attachments: tuple[str, ...], model: LLMModel) -> list[Upload]:
    if not attachments:
        return []
    try:
        return uploads_claim(user=user, upload_ids=attachments, model=model)
    except AttachmentRefused as refused:
        raise ReplyRefused(refused.code, refused.detail) from None


def _attach(conversation: Conversation, message: Message, uploads: list[Upload]) -> None:
    """The uploads now belong to the message; the conversation is marked so prompts look for files."""
    Upload.objects.filter(id__in=[u.id for u in uploads]).update(message=message)
    if not conversation.has_attachments:
        Conversation.objects.filter(id=conversation.id).update(has_attachments=True)
        conversation.has_attachments = True


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
    with transaction.atomic(using=_database()):
        conversation, turns, existing = _open_request(user, conversation_id, request_id, regenerate=True)
        if existing:
            return existing
        path = tree.active_path(turns, conversation.active_leaf_id)
        if message_id is not None:
            previous = _on_path(turns, path, message_id, Message.Role.ASSISTANT, "regenerate")
        elif path and path[-1].role == Message.Role.ASSISTANT:
            previous = path[-1]
        else:
            raise ReplyRefused("nothing_to_regenerate", "There is no assistant reply to regenerate.")
        model = _reply_model(user, conversation, None)
        Regeneration.objects.create(conversation=conversation, request_id=request_id)
        before = path[: path.index(previous)]
        reply = _new_reply(conversation, previous.parent_id, turns[-1].position + 1, request_id, worker, model)
        _insert([reply])
        _touch(conversation, leaf=reply.id)
        tree.added_sibling(reply, tree.sibling_ids(turns, previous.parent_id))
        return ReplyStart(reply=reply, history=_history(conversation, before), model=model, replaces=str(previous.id))


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
    with transaction.atomic(using=_database()):
        conversation, turns, existing = _open_request(user, conversation_id, request_id, regenerate=True)
        if existing:
            return existing
        path = tree.active_path(turns, conversation.active_leaf_id)
        last = path[-1] if path else None
        if last is None or last.role != Message.Role.ASSISTANT or last.status != Status.INTERRUPTED:
            raise ReplyRefused("nothing_to_continue", "Only an interrupted last reply can be continued.")
        model = _reply_model(user, conversation, None)
        Regeneration.objects.create(conversation=conversation, request_id=request_id)
        reply = Message.objects.get(id=last.id)
        reply.conversation = conversation  # the worker reads it (sampling, tools) on the event loop
        reply.status, reply.error, reply.worker = Status.STREAMING, "", worker
        reply.heartbeat_at, reply.finished_at = timezone.now(), None
        reply.save(update_fields=["status", "error", "worker", "heartbeat_at", "finished_at"])
        _touch(conversation, leaf=reply.id)
        tree.annotate([reply], turns)
        return ReplyStart(reply=reply, history=_history(conversation, path), model=model, continues=True)


def reply_finish(
    *,
    reply: Message,
    content: str,
    seq: int,
    status: str,
    error: str = "",
    model: str = "",
    usage=None,
    parts=None,
    cost_usd: str | None = None,
    estimated: bool = False,
) -> Message | None:
    """Save a reply's final state, once, and charge its usage to its owner in the same transaction;
    None when it was already finished elsewhere (the sweep)."""
    reply.content, reply.seq, reply.status, reply.error = content, seq, status, error
    reply.parts = parts_view(parts or [], content)  # the stored tool parts, then the text after them
    reply.model = model or reply.model
    reply.prompt_tokens = usage.prompt_tokens if usage else None
    reply.completion_tokens = usage.completion_tokens if usage else None
    reply.cost_usd = Decimal(cost_usd) if cost_usd is not None else None
    reply.usage_estimated = estimated
    reply.finished_at = timezone.now()
    alias = _database()
    params = [reply.content, reply.seq, reply.status, reply.error, reply.model, reply.prompt_tokens]
    params += [reply.completion_tokens, _prepared(Message, "cost_usd", reply.cost_usd, alias), estimated]
    params += [_prepared(Message, "parts", reply.parts, alias)]
    params += [_prepared(Message, "finished_at", reply.finished_at, alias)]
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(
            _statements(alias).finish, [*params, _prepared(Message, "id", reply.id, alias), Status.STREAMING]
        )
        if not cursor.rowcount:
            return None
        cursor.execute(
            _statements(alias).touch, [params[-1], _prepared(Conversation, "id", reply.conversation_id, alias)]
        )
        _charge(reply)
    return reply


def _charge(reply: Message) -> None:
    """A usage record for the reply's owner: it outlives the conversation, so deleting a chat refunds nothing."""
    if not (reply.prompt_tokens or reply.completion_tokens):
        return
    model = reply.catalog_model if reply.catalog_model_id else None
    UsageRecord.objects.create(
        user_id=reply.conversation.owner_id,
        model=model,
        model_label=model.display_name if model else reply.model,
        upstream_model=reply.model,
        provider=model.provider.name if model else "",
        message=reply,
        prompt_tokens=reply.prompt_tokens or 0,
        completion_tokens=reply.completion_tokens or 0,
        cost_usd=reply.cost_usd or 0,
        estimated=reply.usage_estimated,
        created_at=reply.finished_at,
    )


def reply_titled(*, conversation_id: uuid.UUID, first_message: str, title: str) -> Conversation | None:
    """Give a chat the title its task model wrote, unless someone chose a title meanwhile; the
    conversation as saved, or None when it kept its title (or is gone)."""
    with transaction.atomic(using=_database()):
        conversation = Conversation.objects.select_for_update().filter(id=conversation_id).first()
        if conversation is None or not titles.automatic(conversation.title, first_message):
            return None
        conversation.title = title
        conversation.save(update_fields=["title", "updated_at"])
        return conversation


def reply_parts_save(*, reply_id: uuid.UUID, parts: list[dict]) -> None:
    """Save a streaming reply's parts at a tool event, so a snapshot read anywhere shows them."""
    Message.objects.filter(id=reply_id, status=Status.STREAMING).update(parts=parts)


def replies_checkpoint(*, states: list[tuple[uuid.UUID, str, int]]) -> None:
    """Save partial text and prove liveness for all of this process's replies in one batch.

    The status condition keeps a reply finished meanwhile (here or by the sweep) as it was saved.
    One parameterised statement per reply through executemany, which psycopg pipelines: the ORM's
    bulk_update builds a CASE expression per row in Python, a burst of GIL-held work on the database
    thread that showed as latency spikes on the streaming loop.
    """
    alias = _database()
    now = _prepared(Message, "heartbeat_at", timezone.now(), alias)
    rows = [
        (content, seq, now, _prepared(Message, "id", reply_id, alias), Status.STREAMING.value)
        for reply_id, content, seq in states
    ]
    with connections[alias].cursor() as cursor:
        cursor.executemany(_statements(alias).checkpoint, rows)


def replies_stale(*, stale_before: datetime) -> list[Message]:
    """Streaming replies whose process has not proved itself alive here since `stale_before`."""
    return list(Message.objects.filter(status=Status.STREAMING, heartbeat_at__lt=stale_before))


def reply_recover(
    *,
    reply: Message,
    stale_before: datetime,
    content: str,
    seq: int,
    status: str,
    error: str,
    model: str,
    usage,
    parts: list[dict],
    cost_usd: str | None = None,
    estimated: bool = False,
) -> Message | None:
    """Finish an orphaned reply for its dead process; None if it finished or checkpointed meanwhile.
    `parts` are the stored tool parts the text follows, as in `reply_finish`."""
    finished_at = timezone.now()
    claimed = Message.objects.filter(id=reply.id, status=Status.STREAMING, heartbeat_at__lt=stale_before).update(
        content=content,
        parts=parts_view(parts, content),
        seq=seq,
        status=status,
        error=error,
        model=model or reply.model,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        cost_usd=Decimal(cost_usd) if cost_usd is not None else None,
        usage_estimated=estimated,
        finished_at=finished_at,
    )
    if not claimed:
        return None
    reply.refresh_from_db()
    _charge(reply)
    return reply


def _open_request(
    user: AbstractBaseUser, conversation_id: uuid.UUID | str, request_id: str, *, regenerate: bool = False
) -> tuple[Conversation, list[Turn], ReplyStart | None]:
    """Lock the conversation and its owner, read its turns; a retried request gets its first answer
    back, and a new one is refused while a reply runs or the user is at their cap."""
    try:
        conversation_id = Conversation._meta.pk.to_python(conversation_id)
    except ValidationError:
        raise ReplyRefused("not_found", "This conversation does not exist.") from None  # a malformed id is missing
    conversation = _lock_conversation(conversation_id, user.pk)
    if conversation is None:
        raise ReplyRefused("not_found", "This conversation does not exist.")
    turns = _read_turns(conversation_id)
    existing = _existing_request(turns, request_id)
    if existing is None and regenerate and conversation.regenerations.filter(request_id=request_id).exists():
        existing = _regenerated_since(turns)
    if existing is None:
        _refuse_if_busy(user, turns)
        _refuse_if_over_budget(user)
    return conversation, turns, existing


def _existing_request(turns: list[Turn], request_id: str) -> ReplyStart | None:
    """A retried request gets the reply it started the first time, not a second one."""
    user_message = next((t for t in turns if t.request_id == request_id and t.role == Message.Role.USER), None)
    reply = next((t for t in turns if t.request_id == request_id and t.role == Message.Role.ASSISTANT), None)
    if reply is None and user_message is not None:  # its reply was regenerated: answer with the replacement
        reply = next((t for t in turns if t.parent_id == user_message.id), None)
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
    running = _streaming_count(user.pk)
    if running >= settings.PARLEY_MAX_GENERATIONS_PER_USER:
        raise ReplyRefused(
            "limit_reached",
            f"You already have {running} replies being generated; wait for one to finish.",
        )


def _reply_model(user: AbstractBaseUser, conversation: Conversation, model_id: int | None) -> LLMModel:
    """The model this reply uses: the one asked for, else the conversation's, else the default;
    refused as `model_unavailable` when this user may not use it (now)."""
    if model_id is not None:
        model = selectors.usable_model(user=user, model_id=model_id)
        if model is None:
            raise ReplyRefused("model_unavailable", f"Model {model_id} does not exist or is not available to you.")
        return model
    if conversation.model_id is not None:
        model = selectors.usable_model(user=user, model_id=conversation.model_id)
        if model is None:
            raise ReplyRefused(
                "model_unavailable",
                "This conversation's model is no longer available (disabled or removed); pick another model.",
            )
        return model
    model = selectors.default_model(user=user)
    if model is None:
        raise ReplyRefused("model_unavailable", "No model is available to you; ask an administrator for access.")
    return model


def _refuse_if_over_budget(user: AbstractBaseUser) -> None:
    """Past a monthly budget no new reply starts; one already running is never cut off by its cost."""
    reason = quotas.over_budget(user=user, now=timezone.now())
    if reason:
        raise ReplyRefused("quota_exceeded", reason)


def _new_reply(
    conversation: Conversation,
    parent_id: uuid.UUID | None,
    position: int,
    request_id: str,
    worker: str,
    model: LLMModel,
) -> Message:
    """An unsaved streaming reply, named after the upstream model it asks for."""
    now = timezone.now()
    return Message(
        conversation=conversation,
        parent_id=parent_id,
        position=position,
        role=Message.Role.ASSISTANT,
        status=Status.STREAMING,
        request_id=request_id,
        model=model.name,
        catalog_model=model,
        started_at=now,
        worker=worker,
        heartbeat_at=now,
    )


def _touch(conversation: Conversation, *, leaf: uuid.UUID, first_message: str = "") -> None:
    """Bump recency, show the branch ending at the new reply, and name a new chat after its first message."""
    alias = _database()
    conversation.updated_at, conversation.active_leaf_id = timezone.now(), leaf
    params = [_prepared(Conversation, "updated_at", conversation.updated_at, alias)]
    params.append(_prepared(Conversation, "active_leaf", leaf, alias))
    statement = _statements(alias).touch_leaf
    if first_message and conversation.title == "New chat":
        conversation.title = " ".join(first_message.split())[:TITLE_FROM_MESSAGE] or "New chat"
        statement = _statements(alias).touch_leaf_titled
        params.append(conversation.title)
    with connections[alias].cursor() as cursor:
        cursor.execute(statement, [*params, _prepared(Conversation, "id", conversation.id, alias)])


def _history(conversation: Conversation, turns: list[Turn | Message]) -> list[dict]:
    """The prompt for the model: system prompt, then every earlier turn that has text or files
    (their contents are read later, in the reply's task: attachments/prompt.py)."""
    history: list[dict] = []
    if conversation.system_prompt:
        history.append({"role": "system", "content": conversation.system_prompt})
    if not conversation.has_attachments:
        history += [{"role": turn.role, "content": turn.content} for turn in turns if turn.content]
        return history
    files = refs_by_message([turn.id for turn in turns if turn.role == Message.Role.USER])
    for turn in turns:
        if turn.content or turn.id in files:
            history.append({"role": turn.role, "content": turn.content})
            if turn.id in files:
                history[-1]["attachments"] = files[turn.id]
    return history


# --- The statements every reply runs, in SQL --------------------------------------------

# What a start reads of the conversation, in the model's field order, as Model.from_db expects.
LOCK_FIELDS = tuple(
    f.attname
    for f in Conversation._meta.concrete_fields
    if f.name in {"title", "system_prompt", "model", "temperature", "has_attachments", "active_leaf"}
)


class Turn(NamedTuple):
    """The columns of a conversation's messages that starting a reply needs."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    position: int
    role: str
    status: str
    request_id: str
    content: str


def _database() -> str:
    """The alias the start's transaction and SQL statements use: the router's, for writing messages."""
    return router.db_for_write(Message)


def _lock_conversation(conversation_id: uuid.UUID, owner_id) -> Conversation | None:
    """The owner's conversation, its row and the owner's locked until commit; None if missing.

    Locking the owner's row as well serialises the per-user cap across all their conversations.
    """
    alias = _database()
    with connections[alias].cursor() as cursor:
        cursor.execute(_statements(alias).lock, [_prepared(Conversation, "id", conversation_id, alias), owner_id])
        row = cursor.fetchone()
    if row is None:
        return None
    conversation = Conversation.from_db(alias, ["id", "owner_id", *LOCK_FIELDS], [conversation_id, owner_id, *row])
    conversation.active_leaf_id = _uuid(conversation.active_leaf_id)
    return conversation


def _read_turns(conversation_id: uuid.UUID) -> list[Turn]:
    """The conversation's messages in order, with the columns a start reads."""
    alias = _database()
    with connections[alias].cursor() as cursor:
        cursor.execute(_statements(alias).turns, [_prepared(Message, "conversation", conversation_id, alias)])
        return [Turn(_uuid(row[0]), _uuid(row[1]), *row[2:]) for row in cursor.fetchall()]


def _streaming_count(owner_id) -> int:
    """How many replies the owner has streaming, in every conversation and process, counting the
    unsaved /v1/ calls still in flight (`ApiCall`) like streaming replies."""
    alias = _database()
    now = _prepared(ApiCall, "expires_at", timezone.now(), alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(_statements(alias).streaming_count, [owner_id, Message.Status.STREAMING.value, owner_id, now])
        return cursor.fetchone()[0]


def _insert(messages: list[Message]) -> None:
    """One multi-row INSERT of new messages, with the values and defaults Model.save() would send."""
    alias = _database()
    connection = connections[alias]
    fields = Message._meta.concrete_fields
    params = [
        field.get_db_prep_save(field.pre_save(message, True), connection) for message in messages for field in fields
    ]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(_statements(alias).insert + ", ".join([row] * len(messages)), params)
    for message in messages:
        message._state.adding, message._state.db = False, alias


class Statements(NamedTuple):
    lock: str
    turns: str
    streaming_count: str
    insert: str  # its VALUES rows are added per call
    touch: str
    touch_leaf: str
    touch_leaf_titled: str
    finish: str
    checkpoint: str


@functools.cache
def _statements(alias: str) -> Statements:
    """The statements for one database, with its quoting and the models' table and column names."""
    connection = connections[alias]

    def name(model, field: str | None = None) -> str:
        meta = model._meta
        return connection.ops.quote_name(meta.db_table if field is None else meta.get_field(field).column)

    c, m, u = name(Conversation), name(Message), name(get_user_model())
    owner_pk = connection.ops.quote_name(get_user_model()._meta.pk.column)
    fields = ", ".join(f"{c}.{name(Conversation, field)}" for field in LOCK_FIELDS)
    lock = f" FOR UPDATE OF {c}, {u}" if connection.features.has_select_for_update_of else ""
    columns = ", ".join(connection.ops.quote_name(field.column) for field in Message._meta.concrete_fields)
    finished = ", ".join(
        f"{name(Message, field)} = %s"
        for field in (
            "content",
            "seq",
            "status",
            "error",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "usage_estimated",
            "parts",
            "finished_at",
        )
    )
    touched = f"{name(Conversation, 'updated_at')} = %s, {name(Conversation, 'active_leaf')} = %s"
    return Statements(
        lock=f"SELECT {fields} FROM {c} JOIN {u} ON {u}.{owner_pk} = {c}.{name(Conversation, 'owner')} "
        f"WHERE {c}.{name(Conversation, 'id')} = %s AND {c}.{name(Conversation, 'owner')} = %s{lock}",
        turns=f"SELECT {', '.join(name(Message, field) for field in Turn._fields)} FROM {m} "
        f"WHERE {name(Message, 'conversation')} = %s ORDER BY {name(Message, 'position')}",
        streaming_count=f"SELECT (SELECT COUNT(*) FROM {m} JOIN {c} ON {c}.{name(Conversation, 'id')} = "
        f"{m}.{name(Message, 'conversation')} WHERE {c}.{name(Conversation, 'owner')} = %s "
        f"AND {m}.{name(Message, 'status')} = %s) + (SELECT COUNT(*) FROM {name(ApiCall)} "
        f"WHERE {name(ApiCall, 'owner')} = %s AND {name(ApiCall, 'expires_at')} > %s)",
        insert=f"INSERT INTO {m} ({columns}) VALUES ",
        touch=f"UPDATE {c} SET {name(Conversation, 'updated_at')} = %s WHERE {name(Conversation, 'id')} = %s",
        touch_leaf=f"UPDATE {c} SET {touched} WHERE {name(Conversation, 'id')} = %s",
        touch_leaf_titled=f"UPDATE {c} SET {touched}, {name(Conversation, 'title')} = %s "
        f"WHERE {name(Conversation, 'id')} = %s",
        finish=f"UPDATE {m} SET {finished} WHERE {name(Message, 'id')} = %s AND {name(Message, 'status')} = %s",
        checkpoint=f"UPDATE {m} SET {name(Message, 'content')} = %s, {name(Message, 'seq')} = %s, "
        f"{name(Message, 'heartbeat_at')} = %s WHERE {name(Message, 'id')} = %s AND {name(Message, 'status')} = %s",
    )


def _prepared(model, field: str, value, alias: str):
    """A value as the field sends it to this database (UUIDs are text on SQLite, for one)."""
    return model._meta.get_field(field).get_db_prep_value(value, connections[alias])


def _uuid(value):
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(value)  # SQLite returns hex text
