"""The generation service's entry points: start, edit, regenerate, continue and stop a reply.

Each saves what the request changes in one transaction (replies/; a send's with the other sends
that arrive meanwhile: the Worker's batches), then hands the reply to this process's Worker, which
runs it as a task of its own; a stop reaches the process that runs it.
"""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .. import replies, selectors
from ..models import Message
from ..replies import StartRequest
from .process import get_worker
from .worker import stop_message

Refused = replies.ReplyRefused
ReplyStart = replies.ReplyStart


async def start(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    content: str,
    request_id: str,
    model: int | None = None,
    attachments: tuple[str, ...] = (),
    sampling: dict[str, float | int] | None = None,
) -> ReplyStart:
    """Save the user's message (with its attachments) and stream a reply to it; a retried
    request_id starts nothing new.

    `model` (a catalog id) picks the model for this one reply instead of the conversation's;
    `sampling` (temperature, max_tokens) overrides its options (the /v1/ API passes its request's)."""
    worker = await get_worker()
    asked_at = worker.broadcaster.clock()
    started = await worker.starts.submit(
        StartRequest(
            user=user,
            conversation_id=conversation_id,
            content=content,
            request_id=request_id,
            attachments=attachments,
            worker=worker.channel,
            model_id=model,
        )
    )
    worker.begin(started, request_id, asked_at=asked_at, sampling=sampling)
    return started


async def regenerate(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    request_id: str | None,
    message_id: uuid.UUID | str | None = None,
) -> ReplyStart:
    """Stream a new sibling of a reply on the branch shown (the last unless `message_id` names
    another), once per request_id; the earlier reply stays as another branch."""
    return await _saved_then_begun(
        replies.reply_regenerate,
        user=user,
        conversation_id=conversation_id,
        request_id=request_id,
        message_id=message_id,
    )


async def edit(
    *,
    user: AbstractBaseUser,
    conversation_id: uuid.UUID | str,
    message_id: uuid.UUID | str,
    content: str,
    request_id: str,
) -> ReplyStart:
    """Save a sibling of a user message on the branch shown with new text, and stream a reply to it."""
    return await _saved_then_begun(
        replies.reply_edit,
        user=user,
        conversation_id=conversation_id,
        message_id=message_id,
        content=content,
        request_id=request_id,
    )


async def continue_reply(
    *, user: AbstractBaseUser, conversation_id: uuid.UUID | str, request_id: str | None
) -> ReplyStart:
    """Stream more of the conversation's interrupted last reply, after its saved text, once per request_id."""
    return await _saved_then_begun(
        replies.reply_continue, user=user, conversation_id=conversation_id, request_id=request_id
    )


async def _saved_then_begun(save, *, request_id: str | None, **fields) -> ReplyStart:
    """Save what the request changes (on the database thread, alone: edits, regenerations and
    continuations are rare next to sends), then run its reply on this process."""
    worker = await get_worker()
    asked_at = worker.broadcaster.clock()
    started = await database_sync_to_async(save)(request_id=request_id, worker=worker.channel, **fields)
    worker.begin(started, request_id, asked_at=asked_at)
    return started


async def stop(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str, operator: bool = False) -> Message:
    """Stop the reply streaming in this conversation, on whichever process runs it, and return it.
    An `operator` (the live console, whose view checked its permission) may stop anyone's reply."""
    reply = await database_sync_to_async(_streaming_reply)(
        user=user, conversation_id=conversation_id, operator=operator
    )
    if reply is None:
        raise Refused("not_generating", "No reply is being generated in this conversation.")
    await (await get_worker()).stop(reply)
    return reply


def _streaming_reply(*, user: AbstractBaseUser, conversation_id: uuid.UUID | str, operator: bool) -> Message | None:
    """Ownership is checked on every stop, not only when a socket connects (operators own none)."""
    if operator:
        conversation = selectors.conversation_get_any(conversation_id=conversation_id)
    else:
        conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    if conversation is None:
        raise Refused("not_found", "This conversation does not exist.")
    return selectors.streaming_reply(conversation=conversation)


def stop_after_commit(reply: Message) -> None:
    """From synchronous code: stop a reply on the process that runs it, once the caller's
    transaction commits (a deleted conversation must not keep paying for its upstream call)."""
    if reply.worker:
        message = stop_message(reply)
        transaction.on_commit(lambda: async_to_sync(get_channel_layer().send)(reply.worker, message))


async def live_state(reply_id: str) -> tuple[str, int] | None:
    """A streaming reply's published text and seq, wherever it is being generated."""
    return await (await get_worker()).live_state(reply_id)


async def preview_parts(reply_id: str) -> list[dict] | None:
    """The parts announced with a call the model is still writing, for a reply of this process."""
    return (await get_worker()).preview_parts(reply_id)
