"""GET /healthz: 200 when the database and the channel layer answer, 503 naming whichever does not."""

from __future__ import annotations

import socket
import uuid

import pytest
import redis.asyncio as aioredis
from django.db import OperationalError
from django.test import AsyncClient

from conversations import health

HEALTHZ = "/healthz"
PROBES = 20


def dead_redis_url() -> str:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def dead_channel_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [dead_redis_url()], "prefix": "parley-healthz"},
        }
    }


@pytest.fixture
def broken_database(monkeypatch):
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "check_database", refuse)


def test_healthy_is_200_without_login(client, db):
    response = client.get(HEALTHZ)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}}


def test_healthy_on_the_redis_channel_layer(client, db, settings, redis_url):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": "parley-healthz"},
        }
    }

    response = client.get(HEALTHZ)

    assert response.status_code == 200, response.json()


def test_unreachable_redis_is_503_naming_the_channel_layer(client, db, dead_channel_layer):
    response = client.get(HEALTHZ)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failing"] == ["channel_layer"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"].startswith("unreachable: ")


def test_broken_database_is_503_naming_the_database(client, db, broken_database):
    response = client.get(HEALTHZ)

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == "unreachable: OperationalError: connection refused"
    assert body["checks"]["channel_layer"] == "ok"


def test_both_broken_names_both(client, db, broken_database, dead_channel_layer):
    response = client.get(HEALTHZ)

    assert response.status_code == 503
    assert response.json()["failing"] == ["database", "channel_layer"]


def test_a_hanging_check_times_out(client, db, monkeypatch):
    async def hang() -> None:
        import asyncio

        await asyncio.sleep(60)

    monkeypatch.setattr(health, "check_channel_layer", hang)
    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.2)

    response = client.get(HEALTHZ)

    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"].startswith("unreachable: TimeoutError")


async def test_repeated_checks_leave_no_redis_subscription_behind(
    transactional_db, settings, redis_url, close_thread_connections
):
    """A load balancer probes every second for ever: each probe must leave Redis as it found it."""
    prefix = f"parley-healthz-{uuid.uuid4().hex}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix},
        }
    }
    client, redis_client = AsyncClient(), aioredis.Redis.from_url(redis_url)
    try:
        statuses = [(await client.get(HEALTHZ)).status_code for _ in range(PROBES)]
        left = await redis_client.pubsub_channels(f"{prefix}*")
    finally:
        await redis_client.aclose()

    assert statuses == [200] * PROBES
    assert left == []
