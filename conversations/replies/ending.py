"""The rest of a reply's life in the database: tool parts, checkpoints, the final save once with
its charge and its stored bytes, the title, and the orphan sweep's recovery.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from .. import storage_limits, titles
from ..llm.base import Usage
from ..models import Conversation, LLMModel, Message, UsageRecord
from ..parts import parts_view
from .sql import prepared, statements
from .start import database

logger = logging.getLogger(__name__)
Status = Message.Status
INTERRUPTED_ERROR = "The server stopped while this reply was being written; the text so far was kept."


@dataclasses.dataclass(frozen=True, slots=True)
class FinalState:
    """Everything a reply's final save writes; also what a process hands to the recovery path
    (realtime/recovery.py) when it cannot save it."""

    content: str
    seq: int
    status: str
    error: str = ""
    model: str = ""
    usage: Usage | None = None
    parts: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # stored tool parts (parts.py)
    cost_usd: str | None = None  # decimal text, at the model's prices when the reply started
    estimated: bool = False  # the provider reported no usage: counted from the text

    def fields(self) -> dict[str, Any]:
        """As the keyword arguments of `reply_finish` and `reply_recover`."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> FinalState:
        values = json.loads(raw)
        usage = values.pop("usage", None)
        return cls(**values, usage=Usage(**usage) if usage else None)

    def extends(self, checkpoint: FinalState) -> bool:
        """Whether this text can be the same reply's, from the checkpoint on."""
        return self.seq >= checkpoint.seq and self.content.startswith(checkpoint.content)


@dataclasses.dataclass(frozen=True, slots=True)
class ReplyEnd:
    """One reply and its final state, waiting to be saved with others."""

    reply: Message
    final: FinalState


def reply_finish(*, reply: Message, **final) -> Message | None:
    """Save a reply's final state, once, and charge its usage to its owner in the same transaction;
    None when it was already finished elsewhere (the sweep). `final` as `FinalState`'s fields."""
    return _finished([ReplyEnd(reply, FinalState(**final))])[0]


def replies_finish(ends: list[ReplyEnd]) -> list[Message | Exception | None]:
    """Save many replies' final states in one transaction (group commit: generation/worker.py),
    each as `reply_finish` would alone; a reply's error is its outcome, raised to its caller alone.

    A batch costs the round trips of one reply: the owners locked, the replies still streaming
    locked, their UPDATEs in one pipeline, the conversations bumped, the usage records inserted,
    the stored bytes counted. A batch that fails other than by the database being away (one
    reply's bad value, say) is rolled back and each reply saved alone, so only its own save fails.
    """
    try:
        return list(_finished(ends))
    except (OperationalError, InterfaceError):  # the database is away: every caller retries
        raise
    except DatabaseError:
        logger.exception("%s final saves run one by one", len(ends))
    return [_alone(end) for end in ends]


def _alone(end: ReplyEnd) -> Message | Exception | None:
    try:
        return _finished([end])[0]
    except DatabaseError as error:
        return error


def _apply(end: ReplyEnd, now: datetime) -> None:
    reply, final, usage = end.reply, end.final, end.final.usage
    reply.content, reply.seq, reply.status, reply.error = final.content, final.seq, final.status, final.error
    reply.parts = parts_view(final.parts or [], final.content)  # the stored tool parts, then the text after them
    reply.model = final.model or reply.model
    reply.prompt_tokens = usage.prompt_tokens if usage else None
    reply.completion_tokens = usage.completion_tokens if usage else None
    reply.cost_usd = Decimal(final.cost_usd) if final.cost_usd is not None else None
    reply.usage_estimated = final.estimated
    reply.finished_at = now


def _finished(ends: list[ReplyEnd]) -> list[Message | None]:
    now = timezone.now()
    for end in ends:
        _apply(end, now)
    alias = database()
    ids = [end.reply.id for end in ends]
    with transaction.atomic(using=alias):
        _lock_owners({end.reply.conversation.owner_id for end in ends})
        streaming = Message.objects.select_for_update().filter(id__in=ids, status=Status.STREAMING)
        open_ids = set(streaming.values_list("id", flat=True))
        saved = [end.reply for end in ends if end.reply.id in open_ids]
        if saved:
            with connections[alias].cursor() as cursor:
                cursor.executemany(statements(alias).finish, [_finish_row(reply, alias) for reply in saved])
            touched = Conversation.objects.filter(id__in={reply.conversation_id for reply in saved})
            touched.update(updated_at=saved[0].finished_at)
            _settle(saved)
    return [end.reply if end.reply.id in open_ids else None for end in ends]


def _finish_row(reply: Message, alias: str) -> list:
    """The parameters of `statements().finish` for one reply."""
    return [
        reply.content,
        reply.seq,
        reply.status,
        reply.error,
        reply.model,
        reply.prompt_tokens,
        reply.completion_tokens,
        prepared(Message, "cost_usd", reply.cost_usd, alias),
        reply.usage_estimated,
        prepared(Message, "parts", reply.parts, alias),
        prepared(Message, "finished_at", reply.finished_at, alias),
        prepared(Message, "id", reply.id, alias),
        Status.STREAMING,
    ]


def _lock_owners(owner_ids: set) -> None:
    """The owners' rows, locked in order before anything else a finish writes, as a reply start locks
    its owner before its conversation (start.lock_conversations): the two never wait on each other in
    a cycle, nor do two batches (storage_limits.store_replies)."""
    owners = get_user_model().objects.select_for_update(no_key=True).filter(pk__in=owner_ids).order_by("pk")
    list(owners.values_list("pk"))


def _settle(saved: list[Message]) -> None:
    """What finished replies owe, under their owners' locks: a usage record each, their stored bytes,
    and the mark on conversations whose later prompts replay tool calls."""
    charged = [reply for reply in saved if reply.prompt_tokens or reply.completion_tokens]
    if charged:
        asked = {reply.catalog_model_id for reply in charged} - {None}
        kept = set(LLMModel.objects.filter(id__in=asked).values_list("id", flat=True)) if asked else set()
        UsageRecord.objects.bulk_create(_usage(reply, kept) for reply in charged)
    adding: Counter = Counter()
    for reply in saved:
        adding[reply.conversation.owner_id] += storage_limits.message_bytes(reply.content, reply.parts)
    storage_limits.store_replies(adding=dict(adding))
    _mark_tool_calls([reply.conversation_id for reply in saved if _has_tool_call(reply.parts)])


def _usage(reply: Message, kept: set[int]) -> UsageRecord:
    """The reply's usage record: it outlives the conversation, so deleting a chat refunds nothing, and
    keeps the label of a model deleted since the reply started (`kept` are the models still there)."""
    model = reply.catalog_model if reply.catalog_model_id else None
    return UsageRecord(
        user_id=reply.conversation.owner_id,
        model=model if model is not None and model.id in kept else None,
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
        _mark_tool_calls([conversation_id] if _has_tool_call(parts) else [])


def _has_tool_call(parts: list[dict]) -> bool:
    return any(part.get("type") == "tool_call" for part in parts)


def _mark_tool_calls(conversation_ids: list[uuid.UUID]) -> None:
    """A conversation with a tool call replays its calls in later prompts (replies/start.py). The
    final save marks it too: while the database was away, no parts save may have gone through."""
    if conversation_ids:
        Conversation.objects.filter(id__in=conversation_ids, has_tool_calls=False).update(has_tool_calls=True)


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
        _lock_owners({reply.conversation.owner_id})
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
        _settle([reply])
    return reply
