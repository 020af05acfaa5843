"""Final saves together (replies/ending.py `replies_finish`): each reply saved, charged and counted
as it would be alone, in the round trips of one."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from conversations import replies
from conversations.llm.base import Usage
from conversations.models import Conversation, Message, StorageUsage, UsageRecord
from conversations.replies import FinalState, ReplyEnd

from .catalog import add_model

pytestmark = pytest.mark.db


def start(user, conversation, n: int) -> Message:
    started = replies.reply_start(
        user=user, conversation_id=conversation.id, content=f"Question {n}", request_id=f"r{n}", worker="w1"
    )
    return started.reply


def end(reply: Message, text: str, **fields) -> ReplyEnd:
    return ReplyEnd(reply, FinalState(content=text, seq=3, status="complete", usage=Usage(7, 11), **fields))


@pytest.fixture
def streaming(alice, bob, make_conversation):
    """Six streaming replies: four of alice's, two of bob's."""
    return [start(owner, make_conversation(owner), n) for n, owner in enumerate([alice] * 4 + [bob] * 2)]


def test_a_batch_saves_charges_and_counts_each_reply_as_alone(alice, bob, streaming):
    StorageUsage.objects.filter(user=alice).update(stored_bytes=100)
    StorageUsage.objects.filter(user=bob).delete()  # bob's count is measured anew, his replies included
    outcomes = replies.replies_finish([end(reply, f"Answer {n}") for n, reply in enumerate(streaming)])
    assert [o.id for o in outcomes] == [reply.id for reply in streaming]
    saved = {m.id: m for m in Message.objects.filter(id__in=[r.id for r in streaming])}
    for n, reply in enumerate(streaming):
        row = saved[reply.id]
        assert (row.status, row.content, row.seq, row.prompt_tokens, row.completion_tokens) == (
            "complete",
            f"Answer {n}",
            3,
            7,
            11,
        )
        assert row.parts == [{"type": "text", "text": f"Answer {n}"}]
        assert row.conversation.updated_at == row.finished_at
    records = UsageRecord.objects.order_by("message__position")
    assert sorted(r.message_id for r in records) == sorted(r.id for r in streaming)
    assert {(r.user_id, r.prompt_tokens, r.completion_tokens) for r in records} == {(alice.pk, 7, 11), (bob.pk, 7, 11)}
    assert StorageUsage.objects.get(user=alice).stored_bytes == 100 + 4 * len("Answer 0")
    stored = StorageUsage.objects.get(user=bob).stored_bytes
    assert stored == len("Question 4Question 5Answer 4Answer 5") + 2 * len("A chat")


def test_six_replies_cost_the_statements_of_one(alice, bob, streaming, make_conversation):
    lone = start(alice, make_conversation(alice), 9)
    with CaptureQueriesContext(connection) as one:
        replies.replies_finish([end(lone, "Alone")])
    with CaptureQueriesContext(connection) as six:
        replies.replies_finish([end(reply, "Together") for reply in streaming])
    assert len(six.captured_queries) == len(one.captured_queries)


def test_a_reply_finished_elsewhere_is_left_as_it_was(streaming):
    replies.reply_finish(reply=streaming[1], content="By the sweep", seq=2, status="interrupted")
    outcomes = replies.replies_finish([end(reply, "Late") for reply in streaming[:3]])
    assert [o is None for o in outcomes] == [False, True, False]
    assert Message.objects.get(id=streaming[1].id).content == "By the sweep"
    assert UsageRecord.objects.filter(message=streaming[1]).count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL refuses a NUL in text")
def test_a_reply_the_database_refuses_fails_alone_and_the_others_are_saved(streaming):
    outcomes = replies.replies_finish(
        [end(streaming[0], "Fine"), end(streaming[1], "bad\x00"), end(streaming[2], "Ok")]
    )
    assert isinstance(outcomes[1], DatabaseError)
    assert [o.content for o in (outcomes[0], outcomes[2])] == ["Fine", "Ok"]
    assert Message.objects.get(id=streaming[1].id).status == "streaming"  # left for a retry or the sweep


def test_a_model_deleted_while_its_reply_streamed_keeps_the_reply_and_its_usage(alice, make_conversation):
    model = add_model(name="short-lived", label="Short-lived")
    conversation = make_conversation(alice, model=model)
    reply = start(alice, conversation, 1)
    assert reply.catalog_model_id == model.id
    model.delete()
    (saved,) = replies.replies_finish([end(reply, "Still here")])
    assert Message.objects.get(id=saved.id).content == "Still here"
    record = UsageRecord.objects.get(message=saved)
    assert (record.model_id, record.model_label) == (None, "Short-lived")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: SQLite runs one writer at a time")
@pytest.mark.django_db(transaction=True)
def test_a_finish_waits_for_a_start_holding_the_owner_and_never_deadlocks_with_it(alice, make_conversation):
    """A start locks the owner, then writes the conversation and the stored-bytes count. A finish
    that wrote those first and then waited for the owner deadlocked with it (the soak hit it
    several times a minute); a finish locks the owner first, so it only waits."""
    conversation = make_conversation(alice)
    reply = start(alice, conversation, 1)
    finished: list = []
    with transaction.atomic():  # the start's transaction, on this thread
        get_user_model().objects.select_for_update().filter(pk=alice.pk).get()
        finishing = threading.Thread(target=lambda: finished.append(_finish_on_own_connection(reply)))
        finishing.start()
        _wait_for_a_lock_wait()
        Conversation.objects.filter(id=conversation.id).update(title="Touched by the start")
        StorageUsage.objects.filter(user=alice).update(stored_bytes=F("stored_bytes") + 1)
    finishing.join(10)
    assert [m.content for m in finished] == ["Saved after the start"]


def _finish_on_own_connection(reply: Message) -> Message | None:
    try:
        return replies.replies_finish([end(reply, "Saved after the start")])[0]
    finally:
        connections.close_all()


def _wait_for_a_lock_wait() -> None:
    """Until another session of this database waits for a row lock (the finish, for the owner)."""
    deadline = time.monotonic() + 10
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")  # live, unlike pg_stat_activity
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the finish never waited for the owner's lock")
