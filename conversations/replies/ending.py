"""The rest of a reply's life in the database: tool parts, checkpoints, the final save once with
its charge and its stored bytes, the title, and the orphan sweep's recovery.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from django.db import connections, transaction
from django.utils import timezone

from .. import storage_limits, titles
from ..models import Conversation, Message, UsageRecord
from ..parts import parts_view
from .sql import database, prepared, statements

Status = Message.Status
INTERRUPTED_ERROR = "The server stopped while this reply was being written; the text so far was kept."


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
    alias = database()
    params = [reply.content, reply.seq, reply.status, reply.error, reply.model, reply.prompt_tokens]
    params += [reply.completion_tokens, prepared(Message, "cost_usd", reply.cost_usd, alias), estimated]
    params += [prepared(Message, "parts", reply.parts, alias)]
    params += [prepared(Message, "finished_at", reply.finished_at, alias)]
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(statements(alias).finish, [*params, prepared(Message, "id", reply.id, alias), Status.STREAMING])
        if not cursor.rowcount:
            return None
        cursor.execute(
            statements(alias).touch, [params[-1], prepared(Conversation, "id", reply.conversation_id, alias)]
        )
        _charge(reply)
        _count_stored(reply)
        _mark_tool_calls(reply.conversation_id, reply.parts)
    return reply


def _count_stored(reply: Message) -> None:
    """The finished reply's text and tool parts count toward its owner's stored-bytes quota."""
    adding = storage_limits.message_bytes(reply.content, reply.parts)
    storage_limits.store_reply(user_id=reply.conversation.owner_id, adding=adding)


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
    with transaction.atomic(using=database()):
        conversation = Conversation.objects.select_for_update().filter(id=conversation_id).first()
        if conversation is None or not titles.automatic(conversation.title, first_message):
            return None
        conversation.title = title
        conversation.save(update_fields=["title", "updated_at"])
        return conversation


def reply_parts_save(*, reply_id: uuid.UUID, conversation_id: uuid.UUID, parts: list[dict]) -> None:
    """Save a streaming reply's parts at a tool event, so a snapshot read anywhere shows them; the
    conversation is marked as one whose later prompts replay tool calls (replies/start.py)."""
    with transaction.atomic(using=database()):
        Message.objects.filter(id=reply_id, status=Status.STREAMING).update(parts=parts)
        _mark_tool_calls(conversation_id, parts)


def _mark_tool_calls(conversation_id: uuid.UUID, parts: list[dict]) -> None:
    """A conversation with a tool call replays its calls in later prompts (replies/start.py). The
    final save marks it too: while the database was away, no parts save may have gone through."""
    if any(part.get("type") == "tool_call" for part in parts):
        Conversation.objects.filter(id=conversation_id, has_tool_calls=False).update(has_tool_calls=True)


def replies_checkpoint(*, states: list[tuple[uuid.UUID, str, int]]) -> None:
    """Save partial text and prove liveness for all of this process's replies in one batch.

    The status condition keeps a reply finished meanwhile (here or by the sweep) as it was saved.
    One parameterised statement per reply through executemany, which psycopg pipelines: the ORM's
    bulk_update builds a CASE expression per row in Python, a burst of GIL-held work on the database
    thread that showed as latency spikes on the streaming loop.
    """
    alias = database()
    now = prepared(Message, "heartbeat_at", timezone.now(), alias)
    rows = [
        (content, seq, now, prepared(Message, "id", reply_id, alias), Status.STREAMING.value)
        for reply_id, content, seq in states
    ]
    with connections[alias].cursor() as cursor:
        cursor.executemany(statements(alias).checkpoint, rows)


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
    with transaction.atomic(using=database()):  # claimed, charged and counted together, or not at all
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
        _count_stored(reply)
        _mark_tool_calls(reply.conversation_id, reply.parts)
    return reply
