"""The reply lifecycle in the database: start, checkpoint, finish and orphan recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import replies
from conversations.models import LLMModel, Message, Provider, StorageUsage

pytestmark = pytest.mark.db


@pytest.fixture
def started(alice, answered_conversation):
    return replies.reply_start(
        user=alice, conversation_id=answered_conversation.id, content="Hello", request_id="r1", worker="w1"
    )


def test_start_saves_the_message_and_a_streaming_reply(started, answered_conversation):
    assert [(m.role, m.status) for m in answered_conversation.messages.order_by("position")][-2:] == [
        ("user", "complete"),
        ("assistant", "streaming"),
    ]
    assert [turn["role"] for turn in started.history] == ["user", "assistant", "user"]
    assert started.history[-1] == {"role": "user", "content": "Hello"}
    assert started.reply.worker == "w1" and started.reply.heartbeat_at is not None


def test_checkpoint_saves_text_seq_and_heartbeat_of_streaming_replies_only(started, answered_conversation):
    before = Message.objects.get(id=started.reply.id).heartbeat_at
    done = Message.objects.create(
        conversation=answered_conversation, position=9, role="assistant", content="final", seq=4
    )
    replies.replies_checkpoint(states=[(started.reply.id, "partial text", 3), (done.id, "stale", 1)])
    reply = Message.objects.get(id=started.reply.id)
    assert (reply.content, reply.seq) == ("partial text", 3)
    assert reply.heartbeat_at >= before
    done.refresh_from_db()
    assert (done.content, done.seq) == ("final", 4)


def test_finish_saves_once_and_a_second_finish_changes_nothing(started):
    first = replies.reply_finish(reply=started.reply, content="all", seq=2, status="complete")
    second = replies.reply_finish(reply=started.reply, content="other", seq=3, status="failed")
    assert first is not None and second is None
    assert Message.objects.get(id=started.reply.id).content == "all"


def test_a_stale_reply_is_recovered_once_and_not_after_its_process_checkpoints_again(started):
    replies.replies_checkpoint(states=[(started.reply.id, "saved so far", 5)])
    Message.objects.filter(id=started.reply.id).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    stale_before = timezone.now() - timedelta(seconds=10)
    [stale] = replies.replies_stale(stale_before=stale_before)
    recovered = {
        "content": "saved so far, and more",
        "seq": 6,
        "status": "complete",
        "error": "",
        "model": "",
        "parts": [],
    }
    saved = replies.reply_recover(reply=stale, stale_before=stale_before, usage=None, **recovered)
    assert saved is not None and (saved.status, saved.content, saved.seq) == ("complete", "saved so far, and more", 6)
    assert replies.reply_recover(reply=stale, stale_before=stale_before, usage=None, **recovered) is None


def test_a_reply_that_checkpointed_since_it_was_found_stale_is_not_recovered(started):
    Message.objects.filter(id=started.reply.id).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    stale_before = timezone.now() - timedelta(seconds=10)
    [stale] = replies.replies_stale(stale_before=stale_before)
    replies.replies_checkpoint(states=[(started.reply.id, "alive after all", 2)])
    recovered = {"content": "", "seq": 0, "status": "interrupted", "error": "x", "model": "", "parts": []}
    assert replies.reply_recover(reply=stale, stale_before=stale_before, usage=None, **recovered) is None
    assert Message.objects.get(id=started.reply.id).status == "streaming"


def test_live_replies_are_not_stale(started):
    assert replies.replies_stale(stale_before=timezone.now() - timedelta(seconds=10)) == []


def test_busy_and_idempotent_retry(started, alice, answered_conversation):
    with pytest.raises(replies.ReplyRefused) as busy:
        replies.reply_start(
            user=alice,
            conversation_id=answered_conversation.id,
            content="again",
            request_id="r2",
            worker="w1",
        )
    assert busy.value.code == "busy"
    again = replies.reply_start(
        user=alice, conversation_id=answered_conversation.id, content="Hello", request_id="r1", worker="w1"
    )
    assert again.duplicate and again.reply.id == started.reply.id


def test_a_regenerate_is_done_once_per_request_id_even_after_a_later_one(started, alice, answered_conversation):
    replies.reply_finish(reply=started.reply, content="first", seq=1, status="complete")

    def regenerate(request_id: str) -> replies.ReplyStart:
        return replies.reply_regenerate(
            user=alice, conversation_id=answered_conversation.id, request_id=request_id, worker="w1"
        )

    one = regenerate("g1")
    replies.reply_finish(reply=one.reply, content="second", seq=1, status="complete")
    two = regenerate("g2")
    replies.reply_finish(reply=two.reply, content="third", seq=1, status="complete")
    before = list(answered_conversation.messages.values_list("id", "content"))
    retried = regenerate("g1")
    assert retried.duplicate and retried.reply.id == one.reply.id  # kept as a sibling, so answered with itself
    assert list(answered_conversation.messages.values_list("id", "content")) == before
    assert before[-1][1] == "third"


def test_a_send_asks_neither_whether_the_catalog_is_empty_nor_whether_storage_is_full(alice, answered_conversation):
    """The count's conditional UPDATE is the storage check, and the catalog is filled only when no
    model is found: the two reads every send made before (their round trips delayed each first token)."""
    replies.reply_start(
        user=alice, conversation_id=answered_conversation.id, content="Warm", request_id="r0", worker="w"
    )
    Message.objects.filter(status="streaming").update(status="complete")
    with CaptureQueriesContext(connection) as queries:
        replies.reply_start(
            user=alice, conversation_id=answered_conversation.id, content="Hello", request_id="r1", worker="w"
        )
    statements = [query["sql"] for query in queries.captured_queries]
    assert not [sql for sql in statements if 'FROM "conversations_provider"' in sql]
    assert not [sql for sql in statements if sql.startswith('SELECT 1 AS "a" FROM "conversations_storageusage"')]
    assert [sql for sql in statements if sql.startswith('UPDATE "conversations_storageusage"')]


def test_a_send_past_the_stored_text_limit_is_refused_and_saves_nothing(alice, answered_conversation, settings):
    replies.reply_start(
        user=alice, conversation_id=answered_conversation.id, content="Warm", request_id="r0", worker="w"
    )
    Message.objects.filter(status="streaming").update(status="complete")
    count = Message.objects.count()
    used = StorageUsage.objects.get(user=alice).stored_bytes
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = used + 3
    with pytest.raises(replies.ReplyRefused) as refused:
        replies.reply_start(
            user=alice, conversation_id=answered_conversation.id, content="Hello", request_id="r1", worker="w"
        )
    assert refused.value.code == "quota_exceeded"
    assert Message.objects.count() == count and StorageUsage.objects.get(user=alice).stored_bytes == used


def test_an_empty_catalog_is_filled_by_the_first_send(alice, answered_conversation):
    LLMModel.objects.all().delete()
    Provider.objects.all().delete()
    started = replies.reply_start(
        user=alice, conversation_id=answered_conversation.id, content="Hello", request_id="r1", worker="w"
    )
    assert started.model is not None and Provider.objects.exists()
