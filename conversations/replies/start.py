"""Starting a reply: one transaction that locks the conversation and its owner, answers a retried
request_id with its first answer, refuses `busy`, `limit_reached` and `quota_exceeded`, picks the
model, then saves the user message and an empty streaming reply.

Every decision that must hold across processes is made here inside one transaction, because the
database is the one place all processes agree on. The helpers are shared by edit, regenerate and
continue (branches.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from .. import quotas, selectors, storage_limits, tree
from ..attachments.services import AttachmentRefused, attachment_part, refs_by_message, uploads_claim
from ..llm.base import ChatMessage
from ..models import Conversation, LLMModel, Message, Upload
from ..parts import parts_view, replayed, text_part
from .sql import Turn, database, insert, lock_conversation, prepared, read_turns, statements, streaming_count

Status = Message.Status
TITLE_FROM_MESSAGE = 60


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
    with transaction.atomic(using=database()):
        conversation, turns, existing = open_request(user, conversation_id, request_id, storing=content)
        if existing:
            return existing
        model = reply_model(user, conversation, model_id)
        uploads = claim(user, attachments, model)
        path = tree.active_path(turns, conversation.active_leaf_id)
        return branch(conversation, turns, path, content, request_id, worker, model, uploads=uploads)


def store_text(user: AbstractBaseUser, content: str) -> None:
    """Refuse a message that would take its owner past their stored-bytes quota."""
    try:
        storage_limits.store(user=user, adding=storage_limits.text_bytes(content))
    except storage_limits.QuotaExceeded as refusal:
        raise ReplyRefused(refusal.code, refusal.detail) from None


def branch(conversation, turns, path, content, request_id, worker, model, *, uploads=(), replaces=None):
    """A user message after `path` (a new branch when the path's end has children) and its reply."""
    pair = new_pair(conversation, turns, path, content, request_id, worker, model, uploads)
    insert(list(pair))
    if uploads:
        attach(conversation, pair[0], uploads)  # before the history is read, which includes them
    touch(conversation, leaf=pair[1].id, first_message=first_words(content, uploads))
    return answer(conversation, turns, path, pair, model, replaces=replaces)


def new_pair(conversation, turns, path, content, request_id, worker, model, uploads=()) -> tuple[Message, Message]:
    """The unsaved user message after `path` and its streaming reply."""
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
    return user_message, new_reply(conversation, user_message.id, position + 1, request_id, worker, model)


def first_words(content: str, uploads) -> str:
    """What a new chat is named after: its first message, else its first file."""
    return content or (uploads[0].name if uploads else "")


def answer(conversation, turns, path, pair, model, *, replaces=None) -> ReplyStart:
    """The started reply of a saved pair, its place in the tree and the prompt it answers."""
    user_message, reply = pair
    tree.added_sibling(user_message, tree.sibling_ids(turns, user_message.parent_id))
    tree.added_sibling(reply, ())
    return ReplyStart(
        reply=reply,
        history=history(conversation, [*path, user_message]),
        model=model,
        user_message=user_message,
        replaces=str(replaces.id) if replaces else None,
    )


def claim(user: AbstractBaseUser, attachments: tuple[str, ...], model: LLMModel) -> list[Upload]:
    if not attachments:
        return []
    try:
        return uploads_claim(user=user, upload_ids=attachments, model=model)
    except AttachmentRefused as refused:
        raise ReplyRefused(refused.code, refused.detail) from None


def attach(conversation: Conversation, message: Message, uploads: list[Upload]) -> None:
    """The uploads now belong to the message; the conversation is marked so prompts look for files."""
    Upload.objects.filter(id__in=[u.id for u in uploads]).update(message=message)
    if not conversation.has_attachments:
        Conversation.objects.filter(id=conversation.id).update(has_attachments=True)
        conversation.has_attachments = True


def open_request(
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    request_id: str,
    *,
    regenerate: bool = False,
    storing: str = "",
) -> tuple[Conversation, list[Turn], ReplyStart | None]:
    """Lock the conversation and its owner, read its turns; a retried request gets its first answer
    back, and a new one is refused while a reply runs, the user is at their cap or their stored
    text is full. A new request's text `storing` is counted here: the UPDATE that counts it is the
    storage check too, one statement less on every send (storage_limits.store)."""
    try:
        conversation_id = Conversation._meta.pk.to_python(conversation_id)
    except ValidationError:
        raise ReplyRefused("not_found", "This conversation does not exist.") from None  # a malformed id is missing
    conversation = lock_conversation(conversation_id, user.pk)
    if conversation is None:
        raise ReplyRefused("not_found", "This conversation does not exist.")
    turns = read_turns(conversation_id)
    existing = existing_request(turns, request_id)
    if existing is None and regenerate and conversation.regenerations.filter(request_id=request_id).exists():
        existing = _regenerated_since(turns)
    if existing is None:
        _refuse_if_busy(user, turns)
        refuse_if_over_budget(user)
        if storing:
            store_text(user, storing)
        else:
            refuse_if_storage_full(user)
    return conversation, turns, existing


def existing_request(turns: list[Turn], request_id: str) -> ReplyStart | None:
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
    refuse_if_streaming(turns)
    refuse_at_cap(streaming_count(user.pk))


def refuse_if_streaming(turns: list[Turn]) -> None:
    """One reply at a time per conversation."""
    if any(turn.status == Status.STREAMING for turn in turns):
        raise ReplyRefused("busy", "A reply is already being generated in this conversation.")


def refuse_at_cap(running: int) -> None:
    """No new reply while the owner has PARLEY_MAX_GENERATIONS_PER_USER streaming."""
    if running >= settings.PARLEY_MAX_GENERATIONS_PER_USER:
        raise ReplyRefused(
            "limit_reached",
            f"You already have {running} replies being generated; wait for one to finish.",
        )


def reply_model(user: AbstractBaseUser, conversation: Conversation, model_id: int | None) -> LLMModel:
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


def refuse_if_over_budget(user: AbstractBaseUser) -> None:
    """Past a monthly budget no new reply starts; one already running is never cut off by its cost."""
    reason = quotas.over_budget(user=user, now=timezone.now())
    if reason:
        raise ReplyRefused("quota_exceeded", reason)


def refuse_if_storage_full(user: AbstractBaseUser) -> None:
    """Replies count toward the stored-bytes quota once finished: one that took the user past it
    ran to its end, and the next one is refused here."""
    try:
        storage_limits.allow_reply(user=user)
    except storage_limits.QuotaExceeded as refusal:
        raise ReplyRefused(refusal.code, refusal.detail) from None


def new_reply(
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


def touch(conversation: Conversation, *, leaf: uuid.UUID, first_message: str = "") -> None:
    """Bump recency, show the branch ending at the new reply, and name a new chat after its first message."""
    alias = database()
    titled = touched(conversation, leaf=leaf, first_message=first_message)
    params = [prepared(Conversation, "updated_at", conversation.updated_at, alias)]
    params.append(prepared(Conversation, "active_leaf", leaf, alias))
    statement = statements(alias).touch_leaf
    if titled:
        statement = statements(alias).touch_leaf_titled
        params.append(conversation.title)
    with connections[alias].cursor() as cursor:
        cursor.execute(statement, [*params, prepared(Conversation, "id", conversation.id, alias)])


def touched(conversation: Conversation, *, leaf: uuid.UUID, first_message: str = "") -> bool:
    """Set what `touch` saves on the instance; True when a new chat got its title from `first_message`."""
    conversation.updated_at, conversation.active_leaf_id = timezone.now(), leaf
    if first_message and conversation.title == "New chat":
        conversation.title = " ".join(first_message.split())[:TITLE_FROM_MESSAGE] or "New chat"
        return True
    return False


def history(conversation: Conversation, turns: list[Turn | Message]) -> list[dict]:
    """The prompt for the model: system prompt, then every earlier turn that has text or files
    (their contents are read later, in the reply's task: attachments/prompt.py); a reply that
    called tools comes back as its calls and their results, so later questions can refer to them."""
    history: list[dict] = []
    if conversation.system_prompt:
        history.append({"role": "system", "content": conversation.system_prompt})
    tool_turns = _tool_turns(turns) if conversation.has_tool_calls else {}
    if not conversation.has_attachments and not tool_turns:
        history += [{"role": turn.role, "content": turn.content} for turn in turns if turn.content]
        return history
    files = refs_by_message([turn.id for turn in turns if turn.role == Message.Role.USER])
    for turn in turns:
        if turn.id in tool_turns:
            history += tool_turns[turn.id]
        elif turn.content or turn.id in files:
            history.append({"role": turn.role, "content": turn.content})
            if turn.id in files:
                history[-1]["attachments"] = files[turn.id]
    return history


def _tool_turns(turns: list[Turn | Message]) -> dict[uuid.UUID, list[ChatMessage]]:
    """The replies among `turns` that called tools, each as the turns `parts.replayed` makes of it."""
    replies = [turn.id for turn in turns if turn.role == Message.Role.ASSISTANT]
    stored = Message.objects.filter(id__in=replies).exclude(parts=[]).values_list("id", "parts", "content")
    return {
        reply_id: replayed(parts_view(parts, content))
        for reply_id, parts, content in stored
        if any(part.get("type") == "tool_call" for part in parts)
    }
