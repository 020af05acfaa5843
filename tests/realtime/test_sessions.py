"""A login that ends closes its live sockets (1008) on every process, within seconds."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.models import Conversation
from tests.servers import ServerProcess, live_env
from tests.wsclient import LiveSocket, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def dave(transactional_db):
    return get_user_model().objects.create_user("dave", password="pw-dave-123456")


@pytest.fixture
def chat(dave):
    return Conversation.objects.create(owner=dave, title="Sessions")


async def close_code(socket: LiveSocket, within: float = 5.0) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(within):
            while True:
                await socket.connection.recv()
    return closed.value.rcvd.code


async def logged_in_http(server, cookie: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=server.http_url, cookies={"sessionid": cookie})
    await client.get("/")  # sets the csrftoken cookie
    return client


async def test_logout_closes_that_sessions_sockets_on_every_process(two_servers, dave, chat):
    cookie, other_cookie = await login_cookie(dave), await login_cookie(dave)
    sockets = [await LiveSocket.open(server, chat.id, cookie) for server in two_servers]
    survivor = await LiveSocket.open(two_servers[1], chat.id, other_cookie)
    for socket in [*sockets, survivor]:
        await socket.receive()
    client = await logged_in_http(two_servers[0], cookie)
    response = await client.post(
        "/accounts/logout/", headers={"X-CSRFToken": client.cookies["csrftoken"], "Referer": two_servers[0].http_url}
    )
    assert response.status_code in (200, 302)
    assert [await close_code(socket) for socket in sockets] == [1008, 1008]
    await survivor.send(type="sync")
    assert (await survivor.receive())["type"] == "conversation.snapshot"
    await client.aclose()


async def test_password_change_closes_other_sessions_sockets(two_servers, dave, chat):
    cookie = await login_cookie(dave)
    sockets = [await LiveSocket.open(server, chat.id, cookie) for server in two_servers]
    for socket in sockets:
        await socket.receive()

    @sync_to_async
    def change_password():
        dave.set_password("a-new-password-9876")
        dave.save()

    await change_password()
    assert [await close_code(socket) for socket in sockets] == [1008, 1008]


async def test_expired_session_closes_the_socket(transactional_db, redis_url, dave, chat):
    server = ServerProcess(live_env(REDIS_URL=redis_url, DJANGO_SESSION_COOKIE_AGE="3")).start()
    try:
        with_short_session = await login_cookie_with_age(dave, 3)
        socket = await LiveSocket.open(server, chat.id, with_short_session)
        await socket.receive()
        assert await close_code(socket, within=10) == 1008
    finally:
        server.stop()


@sync_to_async
def login_cookie_with_age(user, seconds: int) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(seconds)
    session.save()
    return session.session_key
