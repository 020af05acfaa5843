"""Starting replies to sends: the user's message and an empty streaming reply, saved for a batch of
sends in one transaction (group commit), each decided exactly as it would be alone.

A process saves the sends that arrive while its previous batch is being saved together in the next
one (generation/worker.py); at an idle moment a send is a batch of one. A batch locks its owners and
conversations, reads their turns and counts each owner's streaming replies once, then decides each
send in order: a retried request_id gets its first answer back, and `busy`, `limit_reached`,
`quota_exceeded` and `model_unavailable` are refused with the counts kept in memory as the batch
admits. Every admitted pair is saved in one INSERT and the conversations in one UPDATE. The ORM's
cost is paid once per batch, not per send (docs/performance.md, "Starts that scale").

A batch that cannot be decided that way (a conversation twice, an owner's stored text near its
limit, a database error) is rolled back and each send starts as a batch of one. Every decision that
must hold across processes is made inside the transaction, because the database is the one place
all processes agree on. The helpers from `database` on are shared with edit, regenerate and
continue (branches.py), as are the refusals (rules.py), the new rows (rows.py) and the prompt
(prompt.py).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, router, transaction
from django.db.models import Case, Count, F, OuterRef, Subquery, Value, When
from django.utils import timezone

from .. import quotas, storage_limits, tree
from ..models import ApiCall, Conversation, LLMModel, Message
from .prompt import history
from .rows import attach, first_words, new_pair, touched
from .rules import (
    ReplyRefused,
    claim,
    refuse_at_cap,
    refuse_if_over_budget,
    refuse_if_streaming,
    reply_model,
    store_text,
)

logger = logging.getLogger(__name__)
Status = Message.Status
LOCKED_FIELDS = ("title", "system_prompt", "model", "temperature", "has_attachments", "has_tool_calls", "active_leaf")


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


@dataclass(frozen=True, slots=True)
class StartRequest:
    """One send, waiting to be saved with others. `model_id` (a catalog id) picks the model for
    this one reply instead of the conversation's."""

    user: AbstractBaseUser
    conversation_id: uuid.UUID | str
    content: str
    request_id: str
    worker: str
    model_id: int | None = None
    attachments: tuple[str, ...] = ()


class Turn(NamedTuple):
    """The columns of a conversation's messages that starting a reply needs."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    position: int
    role: str
    status: str
    request_id: str
    content: str


Outcome = ReplyStart | Exception  # a refusal (ReplyRefused) or an error, raised to that send's caller alone


class Undecided(Exception):
    """The batch cannot decide its sends as they would be decided alone; each starts alone instead."""


def replies_start(requests: list[StartRequest]) -> list[Outcome]:
    """Start each request's reply (or refuse it), in order: in one transaction when they can be decided together."""
    if len(requests) > 1:
        try:
            return _decided(requests)
        except (Undecided, DatabaseError) as reason:
            logger.info("%s starts run one by one: %s", len(requests), reason or type(reason).__name__)
    return [_alone(request) for request in requests]


def reply_start(**request) -> ReplyStart:
    """One send (StartRequest's fields), as a batch of one: its start, or its refusal raised."""
    outcome = _alone(StartRequest(**request))
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _alone(request: StartRequest) -> Outcome:
    try:
        return _decided([request])[0]
    except Exception as error:
        return error


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A send the batch admitted: what saving and answering it needs."""

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


def _decided(requests: list[StartRequest]) -> list[Outcome]:
    ids = [conversation_pk(request.conversation_id) for request in requests]
    known = [i for i in ids if i is not None]
    if len(set(known)) < len(known):
        raise Undecided("a conversation twice")
    with transaction.atomic(using=database()):
        conversations = lock_conversations(known, owners={request.user.pk for request in requests})
        owners = {conversation.owner_id for conversation in conversations.values()}
        batch = _Batch(
            conversations,
            read_turns(list(conversations)),
            streaming_counts(owners),
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
        _count_stored_text(batch, alone=len(requests) == 1)
        return _save(batch, outcomes)


def _groups(owners: set) -> dict:
    """Each owner's group ids: owners in the same groups may use the same models (selectors.models_for_user).
    A lone owner shares the answer with nobody, so theirs are not read."""
    if len(owners) < 2:
        return dict.fromkeys(owners, frozenset())
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
    if conversation.owner_id in batch.full:  # as refuse_if_storage_full; the texts are counted in _count_stored_text
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


def _count_stored_text(batch: _Batch, *, alone: bool) -> None:
    """Count the admitted texts against their owners' stored-bytes quota. A send alone is counted as
    the quota counts one message; a batch's in one UPDATE while every owner stays below the limit,
    else its sends are decided one by one."""
    if alone:
        for admitted in batch.admitted:
            store_text(admitted.request.user, admitted.request.content)
        return
    adding: Counter = Counter()
    for admitted in batch.admitted:
        adding[admitted.request.user.pk] += storage_limits.text_bytes(admitted.request.content)
    if not storage_limits.store_all(adding=dict(adding)):
        raise Undecided("an owner's stored-text count is near its limit")


def _save(batch: _Batch, outcomes: list) -> list[Outcome]:
    """Save every admitted pair at once, then answer each request in order."""
    Message.objects.bulk_create([message for admitted in batch.admitted for message in admitted.pair])
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


def _touch(ids: list[uuid.UUID], titles: list[When]) -> None:
    """One UPDATE for the batch: recency, each conversation's branch shown ending at its new reply
    (its newest message), and the titles of new chats named after their first message."""
    newest = Message.objects.filter(conversation=OuterRef("id")).order_by("-position").values("id")[:1]
    fields = {"updated_at": timezone.now(), "active_leaf": Subquery(newest)}
    if titles:
        fields["title"] = Case(*titles, default=F("title"))
    Conversation.objects.filter(id__in=ids).update(**fields)


def database() -> str:
    """The alias a start's transaction uses: the router's, for writing messages."""
    return router.db_for_write(Message)


def conversation_pk(conversation_id: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return Conversation._meta.pk.to_python(conversation_id)
    except ValidationError:
        return None  # a malformed id is missing


def lock_conversations(ids: list[uuid.UUID], *, owners: set) -> dict[uuid.UUID, Conversation]:
    """Those of the conversations that the owners own, locked with their owners until commit.

    Locking the owner's row serialises the per-user cap across all their conversations. Owners are
    locked first and in order, in a batch and alone, as a final save locks them (ending.py), so no
    two transactions wait on each other in a cycle."""
    locked = (
        Conversation.objects.filter(id__in=ids, owner__in=owners)
        .select_related("owner")
        .select_for_update(of=("owner", "self"))
        .order_by("owner_id", "id")
        .only(*LOCKED_FIELDS, "owner__id")
    )
    return {conversation.id: conversation for conversation in locked}


def read_turns(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Turn]]:
    """Each conversation's messages in order, with the columns a start reads."""
    turns: dict[uuid.UUID, list[Turn]] = {conversation_id: [] for conversation_id in ids}
    rows = Message.objects.filter(conversation__in=ids).order_by("position")
    for conversation_id, *columns in rows.values_list("conversation_id", *Turn._fields):
        turns[conversation_id].append(Turn(*columns))
    return turns


def streaming_counts(owners: set) -> Counter:
    """Replies streaming per owner in every conversation and process, counting the unsaved /v1/
    calls still in flight (`ApiCall`) like streaming replies."""
    replies = Message.objects.filter(status=Status.STREAMING, conversation__owner__in=owners)
    calls = ApiCall.objects.filter(owner__in=owners, expires_at__gt=timezone.now())
    per_owner = replies.order_by().values_list("conversation__owner").annotate(n=Count("id"))
    per_owner = per_owner.union(calls.order_by().values_list("owner").annotate(n=Count("id")), all=True)
    running: Counter = Counter()
    for owner, count in per_owner:  # one statement: an owner may have a row from each side
        running[owner] += count
    return running


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
