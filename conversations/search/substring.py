"""The fallback engine, for a SQLite built without FTS5: case-insensitive substring matches
(`icontains`), newest first, with snippets cut and marked here. Correct but unranked, and it
reads every message of the user; benchmarks also run it as the baseline (bench/search.py)."""

from __future__ import annotations

from functools import reduce
from operator import and_, or_

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from ..models import Conversation, Message
from . import highlight, terms
from .hits import MESSAGE_FIELDS, TITLE_FIELDS, Hit, best_first, message_hit, title_hit


def condition(groups: list[terms.Group], field: str) -> Q:
    """Any group whose phrases all appear in `field` and whose exclusions do not."""
    alternatives = []
    for group in groups:
        required = [Q(**{f"{field}__icontains": phrase}) for phrase in group.include]
        excluded = [~Q(**{f"{field}__icontains": phrase}) for phrase in group.exclude]
        alternatives.append(reduce(and_, required + excluded))
    return reduce(or_, alternatives)


def message_hits(user: AbstractBaseUser, groups: list[terms.Group], limit: int) -> list[Hit]:
    rows = (
        Message.objects.filter(conversation__owner=user)
        .exclude(status=Message.Status.STREAMING)  # indexed once it ends, as by the other engines (schema.py)
        .filter(condition(groups, "content"))
        .order_by("-created_at")
        .values(*MESSAGE_FIELDS, "content")[:limit]
    )
    words = terms.words(groups)
    return [message_hit(row, snippet=highlight.mark_words(row["content"], words), rank=0.0) for row in rows]


def title_hits(user: AbstractBaseUser, groups: list[terms.Group], limit: int) -> list[Hit]:
    rows = (
        Conversation.objects.filter(owner=user)
        .filter(condition(groups, "title"))
        .order_by("-created_at")
        .values(*TITLE_FIELDS)[:limit]
    )
    words = terms.words(groups)
    return [title_hit(row, snippet=highlight.mark_words(row["title"], words), rank=0.0) for row in rows]


def search(*, user: AbstractBaseUser, groups: list[terms.Group], limit: int) -> list[Hit]:
    return best_first(title_hits(user, groups, limit), message_hits(user, groups, limit), limit)
