"""Share links across real processes: a viewer reconnecting mid-stream gets the exact text, and a
revocation closes the viewers on both processes."""

from __future__ import annotations

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations import sharing
from conversations.models import Conversation, ShareLink
from tests.wsclient import LiveSocket, ReplyView, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180), pytest.mark.usefixtures("close_thread_connections")]

STREAM = "!sim tokens=400 tps=200 ttft=0"


@pytest.fixture
def owner(transactional_db):
    return get_user_model().objects.create_user("erin", password="pw-erin-123")


@pytest.fixture
def link(owner) -> ShareLink:
    chat = Conversation.objects.create(owner=owner, title="Shared live")
    return sharing.share_create(conversation=chat, mode="live", login_required=False, show_owner=False)


async def viewer(server, link) -> LiveSocket:
    connection = await websockets.connect(
        f"{server.ws_url}/ws/shares/{link.id}/", additional_headers={"Origin": server.http_url}, open_timeout=10
    )
    return LiveSocket(connection)


async def test_a_viewer_reconnecting_mid_stream_on_the_other_process_gets_the_exact_text(two_servers, owner, link):
    writer = await LiveSocket.open(two_servers[0], link.conversation_id, await login_cookie(owner))
    await writer.receive()
    first = await viewer(two_servers[1], link)
    view = ReplyView()
    view.apply(await first.receive())
    await writer.send(type="message.send", content=STREAM, request_id="w1")
    for frame in await first.receive_until("message.delta"):
        view.apply(frame)
    await first.close()
    second = await viewer(two_servers[0], link)
    for frame in [await second.receive(), *await second.receive_until("message.completed")]:
        view.apply(frame)
    final = await sync_to_async(lambda: link.conversation.messages.get(role="assistant"))()
    assert not view.needs_sync and view.messages[str(final.id)]["content"] == final.content
    assert final.status == "complete"


async def test_revoking_closes_viewers_on_both_processes_with_1008(two_servers, owner, link):
    viewers = [await viewer(server, link) for server in two_servers]
    for socket in viewers:
        await socket.receive()
    await sync_to_async(sharing.share_revoke)(link=link)
    for socket in viewers:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.receive(timeout=10)
        assert closed.value.rcvd.code == 1008
