"""Fixtures every test area shares: alice and bob with logged-in clients, alice's conversations, Redis.

The in-process socket fixtures come from tests/sockets.py; area fixtures live in tests/<area>/conftest.py
under names of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.test import AsyncClient, Client

from conversations.generation import get_worker, shut_down
from conversations.models import Conversation, Message
from tests.servers import ServerProcess, running_servers

PASSWORD = "correct-horse-battery-staple"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

pytest_plugins = ["tests.sockets"]  # socket fixtures shared by the realtime and security tests

MakeConversation = Callable[..., Conversation]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """PARLEY_TEST_DB_SUFFIX names a private PostgreSQL test database, so runs sharing a server never collide."""
    suffix = os.environ.get("PARLEY_TEST_DB_SUFFIX")
    database = django_settings.DATABASES["default"]
    if suffix and database["ENGINE"] != "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{suffix}"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """PBKDF2's deliberate slowness would dominate the suite; it stays second so live_password_hash still checks."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture(autouse=True)
def fresh_cache(settings) -> None:
    """Each test counts its rate limits from zero: the same cache (Redis, with REDIS_URL) under a prefix of its own."""
    settings.CACHES = {
        name: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for name, config in django_settings.CACHES.items()
    }


@pytest.fixture
def password() -> str:
    """The password alice and bob log in with."""
    return PASSWORD


@pytest.fixture(scope="session")
def live_password_hash() -> str:
    """PASSWORD hashed once with PBKDF2: live servers check it with their own hashers, not the fast one here."""
    return make_password(PASSWORD, hasher=PBKDF2PasswordHasher())


def make_person(username: str, password_hash: str):
    user = get_user_model().objects.create_user(username, email=f"{username}@example.com")
    user.password = password_hash
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def alice(db, live_password_hash):
    """Alice owns the conversations the tests look at; she logs in with PASSWORD, on live servers too."""
    return make_person("alice", live_password_hash)


@pytest.fixture
def bob(db, live_password_hash):
    """Bob is a stranger to Alice's conversations."""
    return make_person("bob", live_password_hash)


@pytest.fixture
def alice_client(alice) -> Client:
    """A test client logged in as alice."""
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    """A test client logged in as bob."""
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def make_conversation(db) -> MakeConversation:
    """Create a conversation with one chain of messages given as (role, content) or (role, content, {field: value})."""

    def make(owner, title: str = "A chat", messages: Sequence[tuple] = (), **fields) -> Conversation:
        conversation = Conversation.objects.create(owner=owner, title=title, **fields)
        parent = None
        for position, (role, content, *extra) in enumerate(messages):
            parent = Message.objects.create(
                conversation=conversation,
                parent=parent,
                position=position,
                role=role,
                content=content,
                **(extra[0] if extra else {}),
            )
        if parent is not None:
            Conversation.objects.filter(id=conversation.id).update(active_leaf=parent)
            conversation.refresh_from_db()
        return conversation

    return make


@pytest.fixture
def conversation(alice, make_conversation) -> Conversation:
    """Alice's conversation, with no messages yet."""
    return make_conversation(alice, title="Alice's secrets")


@pytest.fixture
def answered_conversation(alice, make_conversation) -> Conversation:
    """Alice's conversation with one question and its complete reply."""
    return make_conversation(
        alice,
        title="Trip to Lisbon",
        messages=[("user", "Where should I eat?"), ("assistant", "Try a pastelaria.", {"model": "sim-1"})],
    )


@pytest.fixture
async def api(alice) -> AsyncClient:
    """Alice's async client, for the JSON API tests that start replies."""
    client = AsyncClient()
    await client.aforce_login(alice)
    return client


@pytest.fixture
async def chat(alice) -> Conversation:
    """Alice's empty conversation, made from async code."""
    return await Conversation.objects.acreate(owner=alice, title="A chat")


@pytest.fixture
async def worker(close_thread_connections):
    """This event loop's generation worker, shut down after the test; asgiref's worker-thread
    database connection is closed after that, so the test database can be dropped."""
    yield await get_worker()
    await shut_down()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the suite runs against (REDIS_URL, else the local default); fails loudly if it is down."""
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as error:
        pytest.fail(f"Redis at {url} is unreachable ({error}); run the suite with scripts/test.", pytrace=False)
    return url


@pytest.fixture
def server_env(redis_url) -> dict[str, str]:
    """The settings of the live processes a test starts; a module overrides it to add its own."""
    return {"REDIS_URL": redis_url}


@pytest.fixture
def two_servers(transactional_db, server_env) -> Iterator[list[ServerProcess]]:
    """Two live daphne processes sharing the test database and Redis, stopped after the test."""
    with running_servers(2, **server_env) as servers:
        yield servers


@pytest.fixture(autouse=True)
def fair_use_counts_reset() -> None:
    """Per-user fair-use counts live in Redis, keyed by user id, and SQLite reuses ids from test to
    test: each test starts with the budgets of a new user (conversations/realtime/fairness.py)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        keys = list(client.scan_iter("parley:fair:*", count=1000))
        if keys:
            client.delete(*keys)
    except (redis.RedisError, OSError):
        pass  # tests that need Redis fail on their own, with a clearer message
    finally:
        client.close()


def pytest_collection_modifyitems(config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API leaves an event loop running that breaks async tests."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
