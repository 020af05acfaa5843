"""The end of a login closes its sockets under every session engine Django ships.

Sockets authenticate through SESSION_ENGINE, so revocation must load sessions the same way: a
store hard-wired to the database found no cache or signed-cookie session, and judged every one
of them ended. Signed cookies have no server-side store: logout closes the sockets opened with
that cookie (by its value), and a password change ends them through the hash the cookie carries.
"""

from __future__ import annotations

import asyncio
from importlib import import_module

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.conf import settings
from django.test import Client

from conversations import checks, revocation
from conversations.revocation import SESSION_ENDED, SessionGuard, session_is_valid
from tests.sockets import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)  # worker threads must see the test's rows

ENGINES = ["db", "cache", "cached_db", "signed_cookies"]


@pytest.fixture(params=ENGINES)
def session_engine(request, settings) -> str:
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{request.param}"
    return request.param


@pytest.fixture
def no_recheck_delay(monkeypatch) -> None:
    """The delay leaves a password-change view time to re-sign its session; these tests have none."""
    monkeypatch.setattr(revocation, "RECHECK_DELAY", 0)


@sync_to_async
def device_cookie(user, device: str) -> str:
    """A session told apart by its device: two signed-cookie logins in the same second are one cookie."""
    client = Client()
    client.force_login(user)
    session = client.session
    session["device"] = device
    session.save()
    return session.session_key


@sync_to_async
def log_out(cookie: str) -> None:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert client.post("/accounts/logout/").status_code == 302


@sync_to_async
def change_password(user) -> None:
    user.set_password("a-new-password-9876")
    user.save()


async def test_a_live_session_is_valid(session_engine, alice):
    cookie = await sync_to_async(session_cookie)(alice)

    assert await session_is_valid(cookie, alice.pk)


async def test_a_session_is_invalid_after_a_password_change(session_engine, alice):
    cookie = await sync_to_async(session_cookie)(alice)
    await change_password(alice)

    assert not await session_is_valid(cookie, alice.pk)


async def test_logout_closes_the_sockets_of_that_session_only(session_engine, connect, alice, conversation):
    cookie, other_cookie = await device_cookie(alice, "laptop"), await device_cookie(alice, "phone")
    _, ending = await connect(alice, conversation.id, cookie=cookie)
    _, staying = await connect(alice, conversation.id, cookie=other_cookie)
    for socket in (ending, staying):
        await socket.receive()

    await log_out(cookie)

    assert await ending.close_code() == SESSION_ENDED
    await staying.send(type="sync")
    assert (await staying.receive())["type"] == "conversation.snapshot"


async def test_a_password_change_closes_the_users_sockets(
    session_engine, no_recheck_delay, connect, alice, conversation
):
    _, socket = await connect(alice, conversation.id)
    await socket.receive()

    await change_password(alice)

    assert await socket.close_code() == SESSION_ENDED


def test_only_signed_cookie_sessions_are_warned_about(session_engine):
    warnings = checks.check_signed_cookie_sessions(None)

    assert [warning.id for warning in warnings] == (["parley.W001"] if session_engine == "signed_cookies" else [])


class StandInConsumer:
    """What a SessionGuard reads of its consumer, on a real in-memory layer; records close codes."""

    def __init__(self, user, session) -> None:
        self.user = user
        self.scope = {"session": session}
        self.channel_layer = InMemoryChannelLayer()
        self.channel_name = "specific.guarded"
        self.closed: list[int] = []

    async def close(self, code: int) -> None:
        self.closed.append(code)

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)


@pytest.fixture
async def guarded(alice):
    """A started guard over a stand-in consumer of a live session of alice's."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(await sync_to_async(session_cookie)(alice))
    await sync_to_async(session.keys)()  # loaded, as the socket's auth middleware leaves it
    consumer = StandInConsumer(alice, session)
    guard = SessionGuard(consumer)
    await guard.start()
    yield consumer, guard
    await guard.stop()


async def test_a_recheck_is_held_by_the_guard_until_it_has_run(no_recheck_delay, guarded):
    consumer, guard = guarded

    await guard.on_revoked({"recheck": True})
    (check,) = guard.checks
    await check

    assert guard.checks == set()
    assert consumer.closed == []


async def test_a_recheck_of_an_ended_session_closes_the_socket(no_recheck_delay, guarded, alice):
    consumer, guard = guarded
    await change_password(alice)

    await guard.on_revoked({"recheck": True})
    await asyncio.wait(guard.checks)

    assert consumer.closed == [SESSION_ENDED]


async def test_stopping_the_guard_cancels_a_pending_recheck(guarded):
    consumer, guard = guarded
    await guard.on_revoked({"recheck": True})
    (check,) = guard.checks

    await guard.stop()
    await asyncio.wait([check])

    assert check.cancelled() and guard.checks == set()
    assert consumer.closed == []
