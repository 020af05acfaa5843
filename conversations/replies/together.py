"""Starting many replies in one transaction (group commit), for the starts a process receives
while its previous batch is being saved (generation/batches.py).

Each start alone costs about ten round trips, each a hand-off between the event loop and the
database thread, while its owner's row stays locked. A batch pays one lock of all its owners and
conversations, one read of their turns, one count of streaming replies per owner, one INSERT and
one UPDATE, so the lock is held once for all of them (docs/performance.md, "Starts that scale").

Every start is decided exactly as `reply_start` decides it alone, in the order given: the counts
are kept in memory as the batch admits its starts. A batch that cannot be decided that way (a
conversation twice, a storage quota reached, a database error) is rolled back and each start runs
alone, in order.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Case, Count, F, OuterRef, Subquery, Value, When
from django.utils import timezone

from .. import quotas, storage_limits, tree
from ..models import ApiCall, Conversation, LLMModel, Message
from .sql import LOCK_FIELDS, Turn, database, insert
from .start import (
    ReplyRefused,
    ReplyStart,
    answer,
    attach,
    claim,
    existing_request,
    first_words,
    new_pair,
    refuse_at_cap,
    refuse_if_over_budget,
    refuse_if_streaming,
    reply_model,
    reply_start,
    touched,
)

logger = logging.getLogger(__name__)
Outcome = ReplyStart | Exception  # a refusal (ReplyRefused) or an error, raised to that start's caller alone


@dataclass(frozen=True, slots=True)
class StartRequest:
    """One `reply_start` call, waiting to be saved with others."""

    user: AbstractBaseUser
    conversation_id: uuid.UUID | str
    content: str
    request_id: str
    worker: str
    model_id: int | None = None
    attachments: tuple[str, ...] = ()


class Undecided(Exception):
    """The batch cannot decide its starts as they would be decided alone; they run alone instead."""


def replies_start(requests: list[StartRequest]) -> list[Outcome]:
    """Start each request's reply (or refuse it), in order: in one transaction when there are several."""
    if len(requests) > 1:
        try:
            return _together(requests)
        except (Undecided, DatabaseError) as reason:
            logger.info("%s starts run one by one: %s", len(requests), reason or type(reason).__name__)
    return [_alone(request) for request in requests]


def _alone(request: StartRequest) -> Outcome:
    try:
        return reply_start(**{name: getattr(request, name) for name in StartRequest.__slots__})
    except Exception as error:
        return error


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A start the batch admitted: what saving and answering it needs."""

    request: StartRequest
    conversation: Conversation
    turns: list[Turn]
    path: list[Turn]
    pair: tuple[Message, Message]  # the user message and its streaming reply, unsaved
    model: LLMModel
    uploads: list


@dataclass
class _Batch:
    """What the batch knows under its locks, and what it has admitted so far."""

    conversations: dict[uuid.UUID, Conversation]
    turns: dict[uuid.UUID, list[Turn]]
    running: Counter  # streaming replies per owner, the batch's own included
    budgets: bool  # whether any budget applies to an owner in the batch
    groups: dict  # each owner's groups, which alone decide the models they may use
    full: set  # owners whose stored text had reached the limit when the batch began
    refusals: dict = field(default_factory=dict)  # per owner: over budget (a ReplyRefused) or not (None)
    models: dict = field(default_factory=dict)  # (owner's groups, model asked, conversation's) -> model or refusal
    admitted: list[_Admitted] = field(default_factory=list)


def _together(requests: list[StartRequest]) -> list[Outcome]:
    ids = [_conversation_id(request) for request in requests]
    if len({i for i in ids if i is not None}) < len([i for i in ids if i is not None]):
        raise Undecided("a conversation twice")
    with transaction.atomic(using=database()):
        conversations = _lock([i for i in ids if i is not None])
        owners = {conversation.owner_id for conversation in conversations.values()}
        batch = _Batch(
            conversations,
            _turns(list(conversations)),
            _streaming(owners),
            budgets=bool(owners) and quotas.budgets_apply(user_ids=owners),
            groups=_groups(owners),
            full=storage_limits.full_users(user_ids=owners),
        )
        outcomes: list[Outcome | int] = []
        for request, conversation_id in zip(requests, ids, strict=True):
            try:
                outcomes.append(_admit(batch, request, conversation_id))
            except ReplyRefused as refused:
                outcomes.append(refused)
        return _save(batch, outcomes)


def _conversation_id(request: StartRequest) -> uuid.UUID | None:
    try:
        return Conversation._meta.pk.to_python(request.conversation_id)
    except ValidationError:
        return None  # a malformed id is missing


def _lock(ids: list[uuid.UUID]) -> dict[uuid.UUID, Conversation]:
    """The conversations, locked with their owners: owners first and in order, as a start alone does."""
    locked = (
        Conversation.objects.filter(id__in=ids)
        .select_related("owner")
        .select_for_update(of=("owner", "self"))
        .order_by("owner_id", "id")
        .only(*LOCK_FIELDS, "owner__id")  # what a start alone reads (sql.py)
    )
    return {conversation.id: conversation for conversation in locked}


def _turns(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Turn]]:
    turns: dict[uuid.UUID, list[Turn]] = {conversation_id: [] for conversation_id in ids}
    rows = Message.objects.filter(conversation__in=ids).order_by("position")
    for conversation_id, *columns in rows.values_list("conversation_id", *Turn._fields):
        turns[conversation_id].append(Turn(*columns))
    return turns


def _streaming(owners: set) -> Counter:
    """Replies streaming per owner in every process, unsaved /v1/ calls counted alike (sql.streaming_count)."""
    running: Counter = Counter()
    replies = Message.objects.filter(status=Message.Status.STREAMING, conversation__owner__in=owners)
    running.update(dict(replies.order_by().values_list("conversation__owner").annotate(n=Count("id"))))
    calls = ApiCall.objects.filter(owner__in=owners, expires_at__gt=timezone.now())
    running.update(dict(calls.order_by().values_list("owner").annotate(n=Count("id"))))
    return running


def _groups(owners: set) -> dict:
    """Each owner's group ids: owners in the same groups may use the same models (selectors.models_for_user)."""
    memberships = get_user_model().groups.through.objects.filter(user__in=owners)
    groups: dict = {owner: set() for owner in owners}
    for owner, group in memberships.values_list("user", "group"):
        groups[owner].add(group)
    return {owner: frozenset(ids) for owner, ids in groups.items()}


def _admit(batch: _Batch, request: StartRequest, conversation_id: uuid.UUID | None) -> ReplyStart | int:
    """Refuse the request, answer a retry, or admit it: then its place in `batch.admitted`."""
    conversation = batch.conversations.get(conversation_id)
    if conversation is None or conversation.owner_id != request.user.pk:
        raise ReplyRefused("not_found", "This conversation does not exist.")
    turns = batch.turns[conversation.id]
    existing = existing_request(turns, request.request_id)
    if existing is not None:
        return existing
    refuse_if_streaming(turns)
    refuse_at_cap(batch.running[conversation.owner_id])
    _refuse_if_over_budget(batch, request.user)
    if conversation.owner_id in batch.full:  # as refuse_if_storage_full; the batch's own text is checked in _save
        raise ReplyRefused(storage_limits.CODE, storage_limits.full_message())
    model = _model(batch, request, conversation)
    uploads = claim(request.user, request.attachments, model)
    path = tree.active_path(turns, conversation.active_leaf_id)
    pair = new_pair(conversation, turns, path, request.content, request.request_id, request.worker, model, uploads)
    batch.running[conversation.owner_id] += 1
    batch.admitted.append(_Admitted(request, conversation, turns, path, pair, model, uploads))
    return len(batch.admitted) - 1


def _refuse_if_over_budget(batch: _Batch, user: AbstractBaseUser) -> None:
    """Each owner's budgets once per batch: starts spend nothing, so the answer holds for all of them."""
    if not batch.budgets:
        return
    if user.pk not in batch.refusals:
        try:
            refuse_if_over_budget(user)
            batch.refusals[user.pk] = None
        except ReplyRefused as refused:
            batch.refusals[user.pk] = refused
    if batch.refusals[user.pk] is not None:
        raise batch.refusals[user.pk]


def _model(batch: _Batch, request: StartRequest, conversation: Conversation) -> LLMModel:
    """The reply's model, read once per set of groups and choice in a batch."""
    key = (batch.groups[request.user.pk], request.model_id, conversation.model_id)
    if key not in batch.models:
        try:
            batch.models[key] = reply_model(request.user, conversation, request.model_id)
        except ReplyRefused as refused:
            batch.models[key] = refused
    if isinstance(batch.models[key], ReplyRefused):
        raise batch.models[key]
    return batch.models[key]


def _touch(ids: list[uuid.UUID], titles: list[When]) -> None:
    """One UPDATE for the batch: recency, each conversation's branch shown ending at its new reply
    (its newest message), and the titles of new chats named after their first message."""
    newest = Message.objects.filter(conversation=OuterRef("id")).order_by("-position").values("id")[:1]
    fields = {"updated_at": timezone.now(), "active_leaf": Subquery(newest)}
    if titles:
        fields["title"] = Case(*titles, default=F("title"))
    Conversation.objects.filter(id__in=ids).update(**fields)


def _save(batch: _Batch, outcomes: list) -> list[Outcome]:
    """Count the admitted texts against their owners' storage, then save every pair at once."""
    adding: Counter = Counter()
    for admitted in batch.admitted:
        adding[admitted.request.user.pk] += storage_limits.text_bytes(admitted.request.content)
    if not storage_limits.store_all(adding=dict(adding)):
        raise Undecided("an owner's stored-text count is near its limit")
    insert([message for admitted in batch.admitted for message in admitted.pair])
    titles = []
    for a in batch.admitted:
        if a.uploads:
            attach(a.conversation, a.pair[0], a.uploads)
        if touched(a.conversation, leaf=a.pair[1].id, first_message=first_words(a.request.content, a.uploads)):
            titles.append(When(id=a.conversation.id, then=Value(a.conversation.title)))
    if batch.admitted:
        _touch([admitted.conversation.id for admitted in batch.admitted], titles)
    started = [answer(a.conversation, a.turns, a.path, a.pair, a.model) for a in batch.admitted]
    return [started[outcome] if isinstance(outcome, int) else outcome for outcome in outcomes]
