"""Per-user storage and creation limits: PARLEY_MAX_STORED_BYTES_PER_USER, PARLEY_MAX_CONVERSATIONS_PER_HOUR
(monthly spending budgets are quotas.py).

The attack run stored 115 MB of text a minute through the API (2,000 conversations in 15 s, each
with a 19 KB system prompt). What a user writes is counted in `StorageUsage` as it is written, so
each check is one conditional UPDATE; replies are not counted, since the per-user generation cap,
the deadline and LLM_MAX_TOKENS bound them already. A user's first check measures what they stored
before the count existed.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import BigIntegerField, Case, F, Func, Q, Sum, Value, When
from django.utils import timezone

from .models import Conversation, Message, StorageUsage

CODE = "quota_exceeded"


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
        mb = limit / 1_000_000
        raise QuotaExceeded(f"Your chats hold the most text allowed ({mb:g} MB); delete some to write more.")
    StorageUsage.objects.get_or_create(user_id=user_id, defaults={"stored_bytes": measured_bytes(user_id)})
    store(user=user_id, adding=adding)


def store_all(*, adding: dict[int, int]) -> bool:
    """Count bytes for several users at once, in one UPDATE while each has a count and stays
    within the limit (a user without a count yet gets one as `store` makes it); False when one
    would pass the limit, and the caller rolls back what was counted."""
    adding = {user_id: size for user_id, size in adding.items() if size > 0}
    if not adding:
        return True
    limit = settings.PARLEY_MAX_STORED_BYTES_PER_USER
    fits = Q()
    for user_id, size in adding.items():
        fits |= Q(user_id=user_id, stored_bytes__lte=limit - size)
    grows = Case(*(When(user_id=user_id, then=Value(size)) for user_id, size in adding.items()))
    updated = StorageUsage.objects.filter(fits).update(stored_bytes=F("stored_bytes") + grows)
    if updated == len(adding):
        return True
    counted = set(StorageUsage.objects.filter(user_id__in=adding).values_list("user_id", flat=True))
    if len(counted) > updated:
        return False
    try:
        for user_id in adding.keys() - counted:
            store(user=user_id, adding=adding[user_id])
    except QuotaExceeded:
        return False
    return True


def measured_bytes(user: AbstractBaseUser | int) -> int:
    """What the user stored before their count was kept: titles, system prompts, their own messages."""
    conversations = Conversation.objects.filter(owner=user).aggregate(
        total=Sum(OctetLength("title")) + Sum(OctetLength("system_prompt")) + Sum("imported_bytes")
    )["total"]
    messages = Message.objects.filter(conversation__owner=user, role=Message.Role.USER).aggregate(
        total=Sum(OctetLength("content"))
    )["total"]
    return (conversations or 0) + (messages or 0)


def conversation_bytes(conversation: Conversation) -> int:
    """What deleting this conversation gives back."""
    messages = conversation.messages.filter(role=Message.Role.USER).aggregate(total=Sum(OctetLength("content")))
    own = text_bytes(conversation.title, conversation.system_prompt) + conversation.imported_bytes
    return own + (messages["total"] or 0)


def allow_new_conversation(*, user: AbstractBaseUser) -> None:
    allow_new_conversations(user=user, count=1)


def allow_new_conversations(*, user: AbstractBaseUser, count: int) -> None:
    """Refuse `count` new conversations (an import brings several) that would pass the hourly limit."""
    limit = settings.PARLEY_MAX_CONVERSATIONS_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    started = Conversation.objects.filter(owner=user, created_at__gte=since).count()
    if started + count <= limit:
        return
    if count == 1:
        raise QuotaExceeded(f"You started {limit} chats in the last hour, the most allowed; try again later.")
    raise QuotaExceeded(
        f"This import holds {count} chats, and you may start {limit} an hour ({started} in the last hour); "
        "nothing was imported. Import fewer at once, or try again later."
    )
