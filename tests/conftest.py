"""Fixtures every test area shares: two users with logged-in clients, conversations, Redis.

Sub-area fixtures live in tests/<area>/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from conversations.models import Conversation, Message

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
    """PBKDF2's deliberate slowness would dominate the suite; sessions do not depend on the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def password() -> str:
    """The password every user fixture is created with."""
    return PASSWORD


@pytest.fixture
def user(db):
    """User A: owns the conversations most tests look at."""
    return get_user_model().objects.create_user("user_a", email="a@example.com", password=PASSWORD)


@pytest.fixture
def other_user(db):
    """User B: a stranger to user A's conversations."""
    return get_user_model().objects.create_user("user_b", email="b@example.com", password=PASSWORD)


@pytest.fixture
def user_client(user) -> Client:
    """A test client logged in as user A."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def other_client(other_user) -> Client:
    """A test client logged in as user B."""
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def make_conversation(db) -> MakeConversation:
    """Create a conversation with messages given as (role, content) or (role, content, {field: value})."""

    def make(owner, title: str = "A chat", messages: Sequence[tuple] = (), **fields) -> Conversation:
        conversation = Conversation.objects.create(owner=owner, title=title, **fields)
        for position, (role, content, *extra) in enumerate(messages):
            Message.objects.create(
                conversation=conversation, position=position, role=role, content=content, **(extra[0] if extra else {})
            )
        return conversation

    return make


@pytest.fixture
def conversation(user, make_conversation) -> Conversation:
    """User A's conversation with one exchange."""
    return make_conversation(
        user,
        title="Trip to Lisbon",
        messages=[("user", "Where should I eat?"), ("assistant", "Try a pastelaria.", {"model": "sim-1"})],
    )


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the suite runs against (REDIS_URL, else the local default); fails loudly if it is down."""
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as error:
        pytest.fail(f"Redis at {url} is unreachable ({error}); run the suite with scripts/test.", pytrace=False)
    return url


def pytest_collection_modifyitems(config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API leaves an event loop running that breaks async tests."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
