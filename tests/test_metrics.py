"""GET /metrics: who may read it, and the names and values it reports after a known workload."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import uuid
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.core.checks import run_checks
from django.test import AsyncClient, Client
from prometheus_client.parser import text_string_to_metric_families
from redis import asyncio as aioredis

from conversations import generation
from conversations.models import Conversation, Message
from conversations.realtime import housekeeping
from conversations.realtime.broadcast import Broadcaster, LiveReply

TOKENS = 7
FAST = f"!sim tokens={TOKENS} tps=500 ttft=0"
REJECTED = "!sim fail=401"
ENDLESS = "!sim tokens=5000 tps=100 ttft=0"
WAIT = 10.0
DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana" / "parley-dashboard.json"


def scrape_text(client: Client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def delta_of(before: dict, after: dict, name: str, **labels: str) -> float:
    """A gauge's change: it is process-wide, so other tests' leftovers cancel out."""
    return value(after, name, **labels) - value(before, name, **labels)


async def scrape() -> dict:
    response = await AsyncClient().get("/metrics")
    assert response.status_code == 200
    return samples(response.content.decode())


async def until(predicate, what: str) -> dict:
    """Scrape until `predicate(scrape)` holds; the broadcaster counts a flush once Redis answered it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        scraped = await scrape()
        if predicate(scraped):
            return scraped
        if loop.time() > deadline:
            raise AssertionError(f"metrics never showed {what}")
        await asyncio.sleep(0.02)


@sync_to_async
def new_conversation(owner) -> Conversation:
    return Conversation.objects.create(owner=owner, title="A chat")


@sync_to_async
def final_seq(reply_ids) -> int:
    return sum(Message.objects.filter(id__in=reply_ids).values_list("seq", flat=True))


async def finished(worker, reply_id: str) -> None:
    running = worker.running.get(reply_id)
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), WAIT)


# --- who may read them ---------------------------------------------------------


def test_loopback_reads_metrics_without_a_token(client, db):
    assert "parley_running_replies" in scrape_text(client)
    assert "parley_running_replies" in scrape_text(client, REMOTE_ADDR="::1")


def test_another_address_is_refused(client, db):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"parley_" not in response.content


def test_the_bearer_token_opens_metrics_from_any_address(client, db, settings):
    settings.PARLEY_METRICS_TOKEN = "s3cret-scraper-token"
    far = {"REMOTE_ADDR": "203.0.113.9"}
    bearer = {"HTTP_AUTHORIZATION": "Bearer s3cret-scraper-token"}
    assert "parley_tokens_streamed_total" in scrape_text(client, **bearer, **far)
    for wrong in ("Bearer wrong", "Basic s3cret-scraper-token", "Bearer", ""):
        assert client.get("/metrics", HTTP_AUTHORIZATION=wrong, **far).status_code == 403


def test_no_token_configured_means_no_bearer_access(client, db, settings):
    settings.PARLEY_METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403


def test_the_allow_list_takes_networks_and_can_shut_out_loopback(client, db, settings):
    settings.PARLEY_METRICS_ALLOW = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_only_get_is_answered(client, db):
    assert client.post("/metrics").status_code == 405


def test_a_bad_allow_list_entry_fails_the_system_check(settings):
    settings.PARLEY_METRICS_ALLOW = ["127.0.0.1", "localhost"]
    errors = [message for message in run_checks() if message.id == "parley.E002"]
    assert len(errors) == 1 and "localhost" in errors[0].msg


# --- what they say after a known workload ---------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_known_workload_shows_in_every_metric(worker, alice, connect):
    before = await scrape()
    conversations = [await new_conversation(alice) for _ in range(4)]
    accepted, _socket = await connect(alice, conversations[0].id)
    assert accepted

    replies = []
    for index, conversation in enumerate(conversations):
        content = REJECTED if index == 3 else FAST
        started = await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r")
        replies.append(str(started.reply.id))
    for reply_id in replies:
        await finished(worker, reply_id)

    deltas = await final_seq(replies)
    frames = 3 * len(replies)  # per reply: the user's message.created, the reply's, its message.completed

    def delta(scraped, name, **labels) -> float:
        return value(scraped, name, **labels) - value(before, name, **labels)

    after = await until(lambda s: delta(s, "parley_broadcast_flush_entries_sum") >= frames + deltas, "every frame")
    assert delta(after, "parley_broadcast_flush_entries_sum") == frames + deltas
    assert delta(after, "parley_tokens_streamed_total") == 3 * TOKENS
    assert delta(after, "parley_replies_total", status="complete") == 3
    assert delta(after, "parley_replies_total", status="failed") == 1
    assert delta(after, "parley_upstream_errors_total", provider="simulator", code="401") == 1
    assert delta(after, "parley_time_to_first_token_seconds_count") == 3
    assert 0 < delta(after, "parley_time_to_first_token_seconds_sum") < 3 * WAIT
    # Gauges are process-wide: count from what other tests' sockets left open, if anything.
    assert delta(after, "parley_open_sockets", endpoint="conversation") == 1
    assert value(after, "parley_running_replies") == 0
    flushes = delta(after, "parley_broadcast_flush_entries_count")
    waited = delta(after, "parley_added_latency_seconds_count")
    assert 1 <= waited <= flushes <= frames + deltas
    assert delta(after, "parley_added_latency_seconds_bucket", le="+Inf") == waited


@pytest.mark.django_db(transaction=True)
async def test_running_replies_and_open_sockets_go_up_and_back_down(worker, alice, connect):
    before = await scrape()
    conversation = await new_conversation(alice)
    accepted, socket_ = await connect(alice, conversation.id)
    assert accepted
    started = await generation.start(user=alice, conversation_id=conversation.id, content=ENDLESS, request_id="r")
    during = await scrape()
    assert value(during, "parley_running_replies") == 1
    assert delta_of(before, during, "parley_open_sockets", endpoint="conversation") == 1

    await generation.stop(user=alice, conversation_id=conversation.id)
    await finished(worker, str(started.reply.id))
    await socket_.close()
    after = await scrape()
    assert value(after, "parley_running_replies") == 0
    assert delta_of(before, after, "parley_open_sockets", endpoint="conversation") == 0
    cancelled = value(after, "parley_replies_total", status="cancelled")
    assert cancelled == value(during, "parley_replies_total", status="cancelled") + 1


def dead_redis() -> aioredis.Redis:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)


@pytest.mark.django_db
async def test_a_failed_broadcast_counts_as_a_redis_error(client):
    before = samples(await sync_to_async(scrape_text)(client))
    broadcaster = Broadcaster(InMemoryChannelLayer(), 0.05, dead_redis())
    reply = LiveReply(uuid.uuid4(), uuid.uuid4(), broadcaster.mark_dirty)
    reply.append("hello")
    await broadcaster.flush()
    after = samples(await sync_to_async(scrape_text)(client))
    assert value(after, "parley_redis_errors_total", operation="broadcast") == (
        value(before, "parley_redis_errors_total", operation="broadcast") + 1
    )
    assert reply.live_stale  # the text is kept to be rewritten whole on the next flush
    await broadcaster.redis.aclose()


@pytest.mark.django_db
async def test_a_failed_housekeeping_step_counts_as_a_database_error(client):
    async def checkpoint_refused(**kwargs):
        raise ConnectionError("database went away")

    before = samples(await sync_to_async(scrape_text)(client))
    assert await housekeeping.guarded(checkpoint_refused, "checkpoint") is None
    after = samples(await sync_to_async(scrape_text)(client))
    assert value(after, "parley_database_errors_total", operation="checkpoint") == (
        value(before, "parley_database_errors_total", operation="checkpoint") + 1
    )


def test_the_grafana_dashboard_queries_only_names_the_endpoint_serves(client, db):
    suffixes = {"counter": ("",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    declared = re.findall(r"^# TYPE (\S+) (\S+)$", scrape_text(client), re.MULTILINE)  # labelled ones too, unused
    served = {name + suffix for name, kind in declared for suffix in suffixes.get(kind, ("",))}
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b((?:parley|process)_[a-z_]+)\{", target["expr"])
    }
    assert {"parley_time_to_first_token_seconds_bucket", "parley_upstream_errors_total"} <= queried
    assert queried - served == set()
