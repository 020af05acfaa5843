"""The live console in the admin: who may use it, its live reports, and the stop, sweep and reading
it offers, each recorded in the admin log with who did it."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import AsyncClient, Client
from django.utils import timezone

from chatsite.asgi import application
from conversations import generation
from conversations.models import Conversation, Message, ServerProcess
from conversations.revocation import SESSION_ENDED
from tests.sockets import ORIGIN, session_cookie

CONSOLE = "/admin/conversations/serverprocess/console/"
STOP = CONSOLE + "stop/"
SWEEP = CONSOLE + "sweep/"
PROCESSES = "/admin/conversations/serverprocess/"
ENDLESS = "!sim tokens=5000 tps=100 ttft=0"
WAIT = 10.0

pytestmark = [
    pytest.mark.db,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]


def read_url(conversation_id) -> str:
    return f"{CONSOLE}read/{conversation_id}/"


def make_staff(username: str, *, console: bool):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    if console:
        user.user_permissions.add(Permission.objects.get(codename="use_live_console"))
    return user


@pytest.fixture
def operator(db):
    return make_staff("olga", console=True)


@pytest.fixture
def plain_staff(db):
    return make_staff("sam", console=False)


@pytest.fixture
def fast_reports(settings):
    settings.PARLEY_CONSOLE_INTERVAL = 0.05


async def logged_in(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


class ConsoleSocket:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def report_where(self, predicate, what: str) -> dict:
        """Read reports until one satisfies `predicate`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while loop.time() < deadline:
            frame = json.loads(await self.communicator.receive_from(WAIT))
            assert frame["type"] == "console.report"
            if predicate(frame["process"]):
                return frame["process"]
        raise AssertionError(f"no report showed {what}")

    async def close_code(self) -> int:
        while True:
            message = await self.communicator.receive_output(WAIT)
            if message["type"] == "websocket.close":
                return message.get("code", 1000)


@pytest.fixture
async def open_console(close_thread_connections):
    opened: list[WebsocketCommunicator] = []

    async def open_socket(user, cookie: str | None = None):
        cookie = cookie or await sync_to_async(session_cookie)(user)
        headers = [(b"origin", ORIGIN.encode()), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
        communicator = WebsocketCommunicator(application, "/ws/console/", headers)
        accepted, _ = await communicator.connect(timeout=5)
        opened.append(communicator)
        return accepted, ConsoleSocket(communicator)

    yield open_socket
    for communicator in opened:
        await communicator.disconnect()


@sync_to_async
def new_conversation(owner, title="Quarterly numbers") -> Conversation:
    return Conversation.objects.create(owner=owner, title=title)


@sync_to_async
def log_entries(user) -> list[LogEntry]:
    return list(LogEntry.objects.filter(user=user).select_related("content_type").order_by("id"))


async def finished(worker, reply_id: str) -> None:
    running = worker.running.get(reply_id)
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), WAIT)


# --- who may use it ------------------------------------------------------------------------


async def test_non_staff_are_refused_the_page_the_socket_and_every_action(alice, answered_conversation, open_console):
    client = await logged_in(alice)
    for response in (
        await client.get(CONSOLE),
        await client.post(STOP, {"conversation_id": str(answered_conversation.id)}),
        await client.post(SWEEP),
        await client.get(read_url(answered_conversation.id)),
    ):
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    accepted, _ = await open_console(alice)
    assert not accepted
    assert await log_entries(alice) == []


async def test_staff_without_the_console_permission_are_refused(plain_staff, answered_conversation, open_console):
    client = await logged_in(plain_staff)
    assert (await client.get(CONSOLE)).status_code == 403
    assert (await client.post(STOP, {"conversation_id": str(answered_conversation.id)})).status_code == 403
    assert (await client.post(SWEEP)).status_code == 403
    assert (await client.get(read_url(answered_conversation.id))).status_code == 403
    accepted, _ = await open_console(plain_staff)
    assert not accepted
    assert await log_entries(plain_staff) == []


async def test_anonymous_sockets_are_refused(db):
    communicator = WebsocketCommunicator(application, "/ws/console/", [(b"origin", ORIGIN.encode())])
    accepted, _ = await communicator.connect(timeout=5)
    assert not accepted


# --- live reports ------------------------------------------------------------------------------


async def test_the_console_shows_a_streaming_reply_live_with_its_owner_and_growing_count(
    fast_reports, worker, alice, operator, open_console
):
    accepted, console = await open_console(operator)
    assert accepted
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=ENDLESS, request_id="r")
    reply_id = str(started.reply.id)

    def showing(minimum: int):
        return lambda process: any(r["id"] == reply_id and r["tokens"] >= minimum for r in process["replies"])

    first = await console.report_where(showing(1), "the reply's first tokens")
    row = next(r for r in first["replies"] if r["id"] == reply_id)
    assert (row["user"], row["title"], row["conversation_id"]) == ("alice", "Quarterly numbers", str(conversation.id))
    assert row["model"] == started.reply.model and row["age"] >= 0
    assert (first["name"], first["running_replies"]) == (worker.channel, 1)
    assert first["open_sockets"] >= 1  # this console's own socket

    later = await console.report_where(showing(row["tokens"] + 5), "the count growing")
    assert next(r for r in later["replies"] if r["id"] == reply_id)["tokens_per_second"] > 0

    await generation.stop(user=alice, conversation_id=conversation.id)
    await finished(worker, reply_id)
    await console.report_where(lambda process: process["running_replies"] == 0, "the reply gone")


async def test_each_process_heartbeats_into_the_process_list(fast_reports, worker, operator):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not await ServerProcess.objects.filter(name=worker.channel).aexists():
        assert loop.time() < deadline, "no heartbeat row"
        await asyncio.sleep(0.05)
    client = await logged_in(operator)
    page = (await client.get(CONSOLE)).content.decode()
    assert f'data-process="{worker.channel}"' in page and "Sweep orphans now" in page
    assert "Open the live console" in (await client.get(PROCESSES)).content.decode()


async def test_logout_closes_the_console_socket(operator, open_console):
    cookie = await sync_to_async(session_cookie)(operator)
    accepted, console = await open_console(operator, cookie=cookie)
    assert accepted

    def log_out():
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie
        assert client.post("/accounts/logout/").status_code == 302

    await sync_to_async(log_out)()
    assert await console.close_code() == SESSION_ENDED


# --- actions, each in the admin log ------------------------------------------------------------------


async def test_a_stop_from_the_console_ends_the_reply_and_is_logged_with_who_did_it(worker, alice, operator):
    conversation = await new_conversation(alice)
    started = await generation.start(user=alice, conversation_id=conversation.id, content=ENDLESS, request_id="r")
    client = await logged_in(operator)

    response = await client.post(STOP, {"conversation_id": str(conversation.id), "reply_id": str(started.reply.id)})
    assert response.status_code == 302 and response["Location"] == CONSOLE
    await finished(worker, str(started.reply.id))

    reply = await Message.objects.aget(id=started.reply.id)
    assert reply.status == Message.Status.CANCELLED
    [entry] = await log_entries(operator)
    assert (entry.content_type.model, entry.object_id) == ("message", str(reply.id))
    assert entry.change_message == "Stopped from the live console" and entry.is_change()
    assert await log_entries(alice) == []


async def test_a_stop_with_nothing_streaming_changes_and_logs_nothing(answered_conversation, operator):
    client = await logged_in(operator)
    response = await client.post(STOP, {"conversation_id": str(answered_conversation.id)}, follow=True)
    assert "No reply is being generated" in response.content.decode()
    assert await log_entries(operator) == []


async def test_stop_and_sweep_take_only_post(operator):
    client = await logged_in(operator)
    assert (await client.get(STOP)).status_code == 405
    assert (await client.get(SWEEP)).status_code == 405


async def test_sweep_now_interrupts_orphans_announces_them_and_logs_it(alice, operator, connect, make_conversation):
    orphaned = await sync_to_async(make_conversation)(alice, messages=[("user", "Hello?")])
    alive = await sync_to_async(make_conversation)(
        alice,
        messages=[("user", "Hi"), ("assistant", "Still", {"status": "streaming", "heartbeat_at": timezone.now()})],
    )
    accepted, socket = await connect(alice, orphaned.id)  # no reply streams there yet: no worker, no sweep loop
    assert accepted and (await socket.receive())["type"] == "conversation.snapshot"
    long_ago = timezone.now() - timedelta(seconds=settings.PARLEY_STALE_AFTER * 3)
    await Message.objects.acreate(
        conversation=orphaned, position=1, role="assistant", content="Half an ans", status="streaming",
        heartbeat_at=long_ago, worker="parley.worker.gone",
    )  # fmt: skip

    client = await logged_in(operator)
    response = await client.post(SWEEP, follow=True)
    assert "Swept 1 orphaned reply." in response.content.decode()

    completed = (await socket.receive_until("message.completed"))[-1]["message"]
    assert (completed["status"], completed["content"]) == ("interrupted", "Half an ans")
    assert await Message.objects.filter(conversation=alive, status="streaming").aexists()
    [entry] = await log_entries(operator)
    assert entry.object_id == completed["id"] and entry.change_message == "Finished by a console sweep"


async def test_reading_a_conversation_from_the_console_is_logged(answered_conversation, operator):
    client = await logged_in(operator)
    response = await client.get(read_url(answered_conversation.id))
    page = response.content.decode()
    assert response.status_code == 200 and "Try a pastelaria." in page and "recorded in the admin log" in page
    [entry] = await log_entries(operator)
    assert (entry.content_type.model, entry.object_id) == ("conversation", str(answered_conversation.id))
    assert entry.change_message == "Read from the live console"


async def test_reading_a_missing_conversation_is_404_and_logs_nothing(operator):
    client = await logged_in(operator)
    assert (await client.get(read_url("6f1c2a52-0000-4000-8000-000000000000"))).status_code == 404
    assert await log_entries(operator) == []
