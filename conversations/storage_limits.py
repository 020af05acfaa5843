"""Per-user storage and creation limits: PARLEY_MAX_STORED_BYTES_PER_USER, PARLEY_MAX_CONVERSATIONS_PER_HOUR
(monthly spending budgets are quotas.py).

The attack run stored 115 MB of text a minute through the API (2,000 conversations in 15 s, each
with a 19 KB system prompt). What a user stores is counted in `StorageUsage` as it is written, so
each check is one conditional UPDATE. Replies count too, with their tool parts, once finished:
a short prompt can ask for a long reply, so without them the quota bounded only the cheap side.
A user's first check measures what they stored before the count existed.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections, router
from django.db.models import BigIntegerField, F, Func, QuerySet, Sum, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .models import Conversation, ConversationCreation, Message, StorageUsage
from .parts import Part

CODE = "quota_exceeded"
TOOL_PARTS = frozenset({"tool_call", "tool_result"})  # a message's parts that count beside its text


class QuotaExceeded(Exception):
    """A write that would pass a per-user limit; answered 429 or an `error` frame `quota_exceeded`."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.code = CODE
        self.detail = detail


class OctetLength(Func):
    """Bytes of a text column in UTF-8, on PostgreSQL and SQLite alike."""

    function = "OCTET_LENGTH"
    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))", **extra)


def text_bytes(*texts: str) -> int:
    return sum(len(text.encode("utf-8")) for text in texts)


def store(*, user: AbstractBaseUser | int, adding: int) -> None:
    """Count `adding` bytes (negative when text is removed) for a user or user id, refusing when
    it would pass the limit."""
    limit = settings.PARLEY_MAX_STORED_BYTES_PER_USER
    user_id = getattr(user, "pk", user)
    usage = StorageUsage.objects.filter(user_id=user_id)
    if adding <= 0:
        usage.update(stored_bytes=F("stored_bytes") + adding)
        return
    if usage.filter(stored_bytes__lte=limit - adding).update(stored_bytes=F("stored_bytes") + adding):
        return
    if usage.exists():
        raise QuotaExceeded(full_message())
    StorageUsage.objects.get_or_create(user_id=user_id, defaults={"stored_bytes": measured_bytes(user_id)})
    store(user=user_id, adding=adding)


def store_all(*, adding: dict[int, int]) -> bool:
    """Count bytes for several users at once, in one UPDATE while each stays below the limit;
    users without a count yet get theirs measured together first. False when one would reach
    the limit, and the caller rolls back what was counted."""
    adding = {user_id: size for user_id, size in adding.items() if size > 0}
    if not adding:
        return True
    updated = _grow(adding)
    if updated == len(adding):
        return True
    counted = set(StorageUsage.objects.filter(user_id__in=adding).values_list("user_id", flat=True))
    if len(counted) > updated:
        return False
    new = {user_id: adding[user_id] for user_id in adding.keys() - counted}
    StorageUsage.objects.bulk_create(StorageUsage(user_id=u, stored_bytes=b) for u, b in measured_many(new).items())
    return _grow(new) == len(new)


def _grow(adding: dict[int, int]) -> int:
    """Add each user's bytes where the count stays below the limit after it, so every start of a
    batch was allowed (allow_reply); how many counts grew."""
    limit = settings.PARLEY_MAX_STORED_BYTES_PER_USER
    size = _per_user(adding)
    counts = StorageUsage.objects.filter(user_id__in=adding, stored_bytes__lt=Value(limit) - size)
    return counts.update(stored_bytes=F("stored_bytes") + size)


def _per_user(adding: dict[int, int]) -> RawSQL:
    """`CASE user_id WHEN .. THEN .. END`: each user's bytes, for one UPDATE of many counts.

    The same as Case(When(user_id=.., then=..), ...), which the ORM resolves term by term, costly
    with a batch's hundreds of owners (docs/performance.md)."""
    connection = connections[router.db_for_write(StorageUsage)]
    column = connection.ops.quote_name(StorageUsage._meta.get_field("user").column)
    sql = f"CASE {column} {' '.join(['WHEN %s THEN %s'] * len(adding))} END"
    return RawSQL(sql, [value for pair in adding.items() for value in pair], output_field=BigIntegerField())


def measured_bytes(user: AbstractBaseUser | int) -> int:
    user_id = getattr(user, "pk", user)
    return measured_many([user_id])[user_id]


def measured_many(user_ids) -> dict[int, int]:
    """What each user stored before their count was kept: titles, system prompts, every message but
    the replies still streaming."""
    stored = dict.fromkeys(user_ids, 0)
    conversations = Conversation.objects.filter(owner__in=stored).values("owner").order_by()
    totals = conversations.annotate(total=Sum(OctetLength("title")) + Sum(OctetLength("system_prompt")))
    for row in totals:
        stored[row["owner"]] += row["total"] or 0
    messages = Message.objects.filter(conversation__owner__in=stored).exclude(status=Message.Status.STREAMING)
    for owner, content, parts in messages.values_list("conversation__owner", "content", "parts").iterator():
        stored[owner] += message_bytes(content, parts)
    return stored


def conversation_bytes(conversation: Conversation) -> int:
    """What deleting this conversation gives back."""
    return text_bytes(conversation.title, conversation.system_prompt) + messages_bytes(conversation.messages.all())


def messages_bytes(messages: QuerySet[Message]) -> int:
    """The counted size of these messages: a reply counts once it is finished (store_replies)."""
    rows = messages.exclude(status=Message.Status.STREAMING).values_list("content", "parts")
    return sum(message_bytes(content, parts) for content, parts in rows.iterator())


def message_bytes(content: str, parts: list[Part] | None) -> int:
    """A message's text, and the tool calls and results among its parts as compact JSON (its text
    parts repeat `content`, and its files count toward the upload limits instead)."""
    tools = [part for part in parts or () if part.get("type") in TOOL_PARTS]
    return text_bytes(content) + (text_bytes(json.dumps(tools, separators=(",", ":"))) if tools else 0)


def store_replies(*, adding: dict[int, int]) -> None:
    """Count replies as they are saved finished (bytes per owner id), never refused: a running reply
    is not cut off by the quota, the next start is (allow_reply). Run in the transaction that saved
    them, with their owners' rows locked first (replies/ending.py), so a first count measured here
    includes them already."""
    counts = StorageUsage.objects.filter(user_id__in=adding)
    if counts.update(stored_bytes=F("stored_bytes") + _per_user(adding)) == len(adding):
        return
    counted = set(StorageUsage.objects.filter(user_id__in=adding).values_list("user_id", flat=True))
    for user_id in adding.keys() - counted:
        StorageUsage.objects.get_or_create(user_id=user_id, defaults={"stored_bytes": measured_bytes(user_id)})


def allow_reply(*, user: AbstractBaseUser) -> None:
    """Refuse a new reply once the user's stored text has reached the limit (replies count too)."""
    full = StorageUsage.objects.filter(user_id=user.pk, stored_bytes__gte=settings.PARLEY_MAX_STORED_BYTES_PER_USER)
    if full.exists():
        raise QuotaExceeded(full_message())


def full_users(*, user_ids) -> set:
    """Those of these users whose stored text has reached the limit: `allow_reply` for many at once."""
    full = StorageUsage.objects.filter(user__in=user_ids, stored_bytes__gte=settings.PARLEY_MAX_STORED_BYTES_PER_USER)
    return set(full.values_list("user", flat=True))


def full_message() -> str:
    mb = settings.PARLEY_MAX_STORED_BYTES_PER_USER / 1_000_000
    return f"Your chats hold the most text allowed ({mb:g} MB); delete some to write more."


def allow_new_conversation(*, user: AbstractBaseUser) -> None:
    allow_new_conversations(user=user, count=1)


def allow_new_conversations(*, user: AbstractBaseUser, count: int) -> None:
    """Log `count` chat starts (an import brings several), refusing them all if they would pass the
    hourly limit. Starts are counted, not the chats that remain: deleting one does not give its
    start back. The caller holds the owner's StorageUsage row (store), so two writes of one user
    are counted one after the other."""
    limit = settings.PARLEY_MAX_CONVERSATIONS_PER_HOUR
    now = timezone.now()
    starts = ConversationCreation.objects.filter(user=user)
    starts.filter(created_at__lt=now - timedelta(hours=1)).delete()
    started = starts.count()
    if started + count > limit and count == 1:
        raise QuotaExceeded(f"You started {limit} chats in the last hour, the most allowed; try again later.")
    if started + count > limit:
        raise QuotaExceeded(
            f"This import holds {count} chats, and you may start {limit} an hour ({started} in the last hour); "
            "nothing was imported. Import fewer at once, or try again later."
        )
    ConversationCreation.objects.bulk_create(ConversationCreation(user=user, created_at=now) for _ in range(count))
