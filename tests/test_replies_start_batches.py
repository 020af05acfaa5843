"""Starts saved together (replies/start.py): each decided exactly as it would be alone, in order."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import replies
from conversations.generation.worker import START_BATCH_MAX
from conversations.models import ApiCall, ApiToken, Budget, Message, StorageUsage, UsageRecord
from conversations.replies import ReplyRefused, ReplyStart, StartRequest

from .catalog import add_model

pytestmark = pytest.mark.db


@pytest.fixture
def chats(alice, make_conversation):
    return [make_conversation(alice, title="New chat") for _ in range(4)]


def request(user, chat, n: int | str, content: str = "Hello there", **fields) -> StartRequest:
    return StartRequest(
        user=user, conversation_id=getattr(chat, "id", chat), content=content, request_id=f"r{n}", worker="w1", **fields
    )


def codes(outcomes) -> list[str]:
    return [
        o.code if isinstance(o, ReplyRefused) else "started" if isinstance(o, ReplyStart) else repr(o) for o in outcomes
    ]


def streaming(user) -> int:
    return Message.objects.filter(conversation__owner=user, status=Message.Status.STREAMING).count()


def test_a_batch_saves_each_pair_names_new_chats_and_answers_in_order(alice, chats, make_conversation):
    StorageUsage.objects.create(user=alice, stored_bytes=0)
    named = make_conversation(alice, title="Kept", messages=[("user", "Earlier"), ("assistant", "Yes")])
    batch = [request(alice, chat, n, f"Question {n}") for n, chat in enumerate(chats)]
    outcomes = replies.replies_start([*batch, request(alice, named, 9, "More")])
    assert codes(outcomes) == ["started"] * 5
    named.refresh_from_db()
    assert (named.title, named.active_leaf_id) == ("Kept", outcomes[4].reply.id)
    assert [turn["content"] for turn in outcomes[4].history] == ["Earlier", "Yes", "More"]
    outcomes = outcomes[:4]
    for n, (chat, started) in enumerate(zip(chats, outcomes, strict=True)):
        chat.refresh_from_db()
        assert (chat.title, chat.active_leaf_id) == (f"Question {n}", started.reply.id)
        assert started.history == [{"role": "user", "content": f"Question {n}"}]
        assert [(m.role, m.status, m.content) for m in chat.messages.order_by("position")] == [
            ("user", "complete", f"Question {n}"),
            ("assistant", "streaming", ""),
        ]
    assert StorageUsage.objects.get(user=alice).stored_bytes == sum(len(f"Question {n}") for n in range(4)) + 4


def test_a_batch_admits_exactly_up_to_the_cap_counting_running_replies_and_api_calls(alice, chats, settings):
    settings.PARLEY_MAX_GENERATIONS_PER_USER = 3
    replies.reply_start(user=alice, conversation_id=chats[0].id, content="earlier", request_id="e", worker="w1")
    token = ApiToken.objects.create(owner=alice, name="t", prefix="t", digest="d" * 64)
    ApiCall.objects.create(owner=alice, token=token, expires_at=timezone.now() + timedelta(minutes=5))
    outcomes = replies.replies_start([request(alice, chat, n) for n, chat in enumerate(chats[1:])])
    assert codes(outcomes) == ["started", "limit_reached", "limit_reached"]
    assert "3 replies" in outcomes[1].detail
    assert streaming(alice) == 2


def test_busy_missing_and_strangers_conversations_are_refused_and_the_rest_start(alice, bob, chats, make_conversation):
    replies.reply_start(user=alice, conversation_id=chats[0].id, content="first", request_id="e", worker="w1")
    bobs = make_conversation(bob, title="Bob's")
    batch = [
        request(alice, chats[0], 1),
        request(alice, bobs, 2),
        request(alice, "not-a-uuid", 3),
        request(alice, chats[1], 4),
    ]
    assert codes(replies.replies_start(batch)) == ["busy", "not_found", "not_found", "started"]
    assert not bobs.messages.exists()


def test_a_retried_request_id_gets_its_first_reply_and_nothing_new(alice, chats):
    first = replies.reply_start(user=alice, conversation_id=chats[0].id, content="Hi", request_id="r0", worker="w1")
    outcomes = replies.replies_start([request(alice, chats[0], 0, "Hi"), request(alice, chats[1], 1)])
    assert codes(outcomes) == ["started", "started"]
    assert outcomes[0].duplicate and outcomes[0].reply.id == first.reply.id
    assert chats[0].messages.count() == 2


def test_a_conversation_twice_in_a_batch_is_decided_in_order_as_alone(alice, chats):
    outcomes = replies.replies_start(
        [request(alice, chats[0], 1), request(alice, chats[0], 2), request(alice, chats[0], 1)]
    )
    assert codes(outcomes) == ["started", "busy", "started"]
    assert outcomes[2].duplicate and outcomes[2].reply.id == outcomes[0].reply.id


def test_near_the_storage_limit_each_start_is_counted_alone(alice, chats, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 25
    StorageUsage.objects.create(user=alice, stored_bytes=0)
    replies.reply_start(user=alice, conversation_id=chats[0].id, content="x" * 5, request_id="e", worker="w1")
    outcomes = replies.replies_start([request(alice, chat, n, "y" * 10) for n, chat in enumerate(chats[1:])])
    assert codes(outcomes) == ["started", "started", "quota_exceeded"]
    assert StorageUsage.objects.get(user=alice).stored_bytes == 25
    assert not chats[3].messages.exists()


def test_a_used_up_budget_refuses_only_its_owners_starts(alice, bob, chats, make_conversation):
    team = Group.objects.create(name="team")
    bob.groups.add(team)
    Budget.objects.create(group=team, monthly_tokens=5)
    UsageRecord.objects.create(user=bob, model_label="m", prompt_tokens=3, completion_tokens=3)
    bobs = make_conversation(bob, title="Bob's")
    outcomes = replies.replies_start([request(bob, bobs, 1), request(alice, chats[0], 2)])
    assert codes(outcomes) == ["quota_exceeded", "started"]
    assert "group team" in outcomes[0].detail


def test_a_model_this_user_may_not_use_is_refused_for_that_start_only(alice, chats):
    add_model("sim", "sim-a", is_default=True)
    hidden = add_model("sim", "hidden", enabled=False)
    outcomes = replies.replies_start([request(alice, chats[0], 1, model_id=hidden.id), request(alice, chats[1], 2)])
    assert codes(outcomes) == ["model_unavailable", "started"]


def test_a_batch_by_one_owner_costs_the_same_round_trips_whatever_its_size(alice, make_conversation, settings):
    settings.PARLEY_MAX_GENERATIONS_PER_USER = 100
    replies.reply_start(  # the owner's stored-text count exists from here on
        user=alice, conversation_id=make_conversation(alice).id, content="warm", request_id="w", worker="w1"
    )

    def round_trips(size: int) -> int:
        chats = [make_conversation(alice) for _ in range(size)]
        with CaptureQueriesContext(connection) as queries:
            assert (
                codes(replies.replies_start([request(alice, c, n) for n, c in enumerate(chats)])) == ["started"] * size
            )
        return len(queries)

    assert round_trips(2) == round_trips(20)


def test_owners_in_different_groups_get_the_models_their_groups_allow(alice, bob, make_conversation):
    add_model("sim", "sim-a", is_default=True)
    team_only = add_model("sim", "team-only", groups=("team",))
    bob.groups.add(Group.objects.get(name="team"))
    outcomes = replies.replies_start(
        [
            request(alice, make_conversation(alice), 1, model_id=team_only.id),
            request(bob, make_conversation(bob), 2, model_id=team_only.id),
            request(alice, make_conversation(alice), 3),
        ]
    )
    assert codes(outcomes) == ["model_unavailable", "started", "started"]
    assert (outcomes[1].model.name, outcomes[2].model.name) == ("team-only", "sim-a")


def test_a_new_owners_first_start_in_a_batch_counts_what_they_stored_before(alice, bob, make_conversation):
    StorageUsage.objects.create(user=alice, stored_bytes=0)
    bobs = make_conversation(bob, title="Old")  # 3 bytes stored before any count
    outcomes = replies.replies_start([request(alice, make_conversation(alice), 1, "abc"), request(bob, bobs, 2, "de")])
    assert codes(outcomes) == ["started", "started"]
    assert StorageUsage.objects.get(user=alice).stored_bytes == 3
    assert StorageUsage.objects.get(user=bob).stored_bytes == 3 + 2


@pytest.mark.parametrize("counted", [True, False], ids=["counted owners", "new owners"])
def test_a_batch_by_many_owners_costs_the_same_round_trips_whatever_its_size(make_conversation, counted):
    add_model("sim", "sim-a", is_default=True)

    def round_trips(size: int) -> int:
        owners = [get_user_model().objects.create_user(f"u{size}-{n}") for n in range(size)]
        if counted:
            StorageUsage.objects.bulk_create([StorageUsage(user=owner, stored_bytes=0) for owner in owners])
        batch = [request(owner, make_conversation(owner), n) for n, owner in enumerate(owners)]
        with CaptureQueriesContext(connection) as queries:
            assert codes(replies.replies_start(batch)) == ["started"] * size
        return len(queries)

    assert round_trips(2) == round_trips(20)


def test_the_largest_batch_a_process_sends_is_saved_in_one_transaction(make_conversation, caplog):
    """A full batch (START_BATCH_MAX sends by as many owners: the most rows and parameters one
    transaction carries) is decided together, not rolled back to starts one by one."""
    add_model("sim", "sim-a", is_default=True)
    owners = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"big-{n}") for n in range(START_BATCH_MAX)]
    )
    StorageUsage.objects.bulk_create([StorageUsage(user=owner, stored_bytes=0) for owner in owners])
    batch = [request(owner, make_conversation(owner), n, "A question of some length") for n, owner in enumerate(owners)]
    with caplog.at_level(logging.INFO, logger="conversations.replies.start"):
        assert codes(replies.replies_start(batch)) == ["started"] * START_BATCH_MAX
    assert "one by one" not in caplog.text


def test_an_owner_whose_stored_text_reached_the_limit_is_refused_in_a_batch(alice, bob, make_conversation, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 100
    StorageUsage.objects.create(user=alice, stored_bytes=100)  # a finished reply took her to the limit
    StorageUsage.objects.create(user=bob, stored_bytes=0)
    batch = [request(alice, make_conversation(alice), 1, ""), request(bob, make_conversation(bob), 2)]
    outcomes = replies.replies_start(batch)
    assert codes(outcomes) == ["quota_exceeded", "started"]
    assert "most text allowed" in outcomes[0].detail
