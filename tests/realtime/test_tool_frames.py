"""Tool calls and results reach every tab as `message.parts` frames, and a socket that connects mid
tool loop resumes exactly: its snapshot's parts, then later frames, equal the final message."""

from __future__ import annotations

import asyncio

import pytest

from conversations.models import Message
from conversations.tools import registry
from tests.tool_fixtures import Gate

pytestmark = pytest.mark.django_db(transaction=True)

HELD = '!sim tool=held:{"note":"n"} echo=1 tps=0 ttft=0\nLooking it up.'
STALLED = '!sim tool=held:{"note":"n"} tool_stall=1 echo=1 tps=0 ttft=0\nLooking it up.'  # half a call, then nothing


@pytest.fixture(autouse=True)
def tools_on(settings):
    settings.PARLEY_TOOLS = ["tests.tool_fixtures.held"]
    Gate.reset()
    yield
    registry.load_tools.cache_clear()


def view(parts: list[dict], content: str) -> list[dict]:
    """What a client shows: the same rule as conversations/parts.py, written again from the doc."""
    covered = "\n\n".join(p["text"] for p in parts if p["type"] == "text")
    tail = content[len(covered) :] if content.startswith(covered) else ""
    if not tail:
        return parts
    if parts and parts[-1]["type"] == "text":
        return [*parts[:-1], {"type": "text", "text": parts[-1]["text"] + tail}]
    tail = tail.removeprefix("\n\n") if covered else tail
    return [*parts, {"type": "text", "text": tail}]


class Tab:
    """A client applying frames as docs/protocol.md says."""

    def __init__(self) -> None:
        self.content, self.seq, self.parts, self.final = "", 0, [], None

    def apply(self, frame: dict, reply_id: str) -> None:
        if frame["type"] == "conversation.snapshot":
            reply = next(m for m in frame["messages"] if m["id"] == reply_id)
            self.content, self.seq, self.parts = reply["content"], reply["seq"], reply["parts"]
        elif frame["type"] == "message.delta" and frame["message_id"] == reply_id and frame["seq"] == self.seq + 1:
            self.content, self.seq = self.content + frame["delta"], frame["seq"]
        elif frame["type"] == "message.parts" and frame["message_id"] == reply_id:
            if len(frame["parts"]) >= len(self.parts):
                self.parts = frame["parts"]
        elif frame["type"] == "message.completed" and frame["message"]["id"] == reply_id:
            self.final = frame["message"]


async def send_stalled(socket) -> tuple[str, list[dict]]:
    """Send STALLED and read until the first half of the call's arguments has been shown; the
    reply's id and the parts shown then."""
    await socket.send(type="message.send", content=STALLED, request_id="r1")
    while True:
        frames = await socket.receive_until("message.parts", timeout=20)
        shown = frames[-1]["parts"]
        if shown[-1]["arguments"] == '{"note':
            return frames[-1]["message_id"], shown


async def test_every_tab_sees_the_call_then_its_result_as_parts(connect, conversation, alice):
    _, first = await connect(alice, conversation.id)
    _, second = await connect(alice, conversation.id)
    for socket in (first, second):
        await socket.receive_until("conversation.snapshot")
    await first.send(type="message.send", content=HELD, request_id="r1")
    await asyncio.wait_for(Gate.started.wait(), 10)
    Gate.release.set()
    for socket in (first, second):
        frames = await socket.receive_until("message.completed", timeout=20)
        parts_frames = [f["parts"] for f in frames if f["type"] == "message.parts"]
        previews = [parts for parts in parts_frames if parts[-1].get("streaming")]
        saved = [parts for parts in parts_frames if not parts[-1].get("streaming")]
        assert previews and parts_frames[0] is previews[0]  # the call shows while the model writes it
        for parts in previews:
            assert [p["type"] for p in parts] == ["text", "tool_call"] and parts[1]["name"] == "held"
            assert '{"note":"n"}'.startswith(parts[1]["arguments"])
        assert [[p["type"] for p in parts] for parts in saved] == [
            ["text", "tool_call"],
            ["text", "tool_call", "tool_result"],
        ]
        final = frames[-1]["message"]
        assert "streaming" not in final["parts"][1]
        assert [p["type"] for p in final["parts"]] == ["text", "tool_call", "tool_result", "text"]
        assert final["content"] == "Looking it up.\n\nTool result: released n."


async def test_a_socket_connecting_mid_tool_call_resumes_exactly(connect, conversation, alice):
    _, sender = await connect(alice, conversation.id)
    await sender.receive_until("conversation.snapshot")
    await sender.send(type="message.send", content=HELD, request_id="r1")
    created = await sender.receive_until("message.created")
    while created[-1]["message"]["role"] != "assistant":
        created = await sender.receive_until("message.created")
    reply_id = created[-1]["message"]["id"]
    await asyncio.wait_for(Gate.started.wait(), 10)

    _, late = await connect(alice, conversation.id)
    tab = Tab()
    snapshot = await late.receive_until("conversation.snapshot")
    tab.apply(snapshot[-1], reply_id)
    assert [p["type"] for p in tab.parts] == ["text", "tool_call"]  # the call in progress is in the snapshot
    Gate.release.set()
    for frame in await late.receive_until("message.completed", timeout=20):
        tab.apply(frame, reply_id)
    assert view(tab.parts, tab.content) == tab.final["parts"]
    assert tab.content == tab.final["content"]


async def test_a_socket_connecting_while_a_call_is_being_written_sees_it_as_the_other_tabs_do(
    connect, conversation, alice
):
    """The model stalls halfway through a call's arguments: a late tab's snapshot shows the call as
    far as the first tab's last `message.parts` frame, marked streaming; Stop then ends the reply."""
    _, sender = await connect(alice, conversation.id)
    await sender.receive_until("conversation.snapshot")
    reply_id, shown = await send_stalled(sender)
    assert shown[-1]["streaming"] and shown[-1]["name"] == "held"

    _, late = await connect(alice, conversation.id)
    snapshot = (await late.receive_until("conversation.snapshot"))[-1]
    reply = next(m for m in snapshot["messages"] if m["id"] == reply_id)
    assert view(reply["parts"], reply["content"]) == shown

    await sender.send(type="generation.stop")
    final = (await late.receive_until("message.completed", timeout=20))[-1]["message"]
    assert final["status"] == "cancelled" and final["content"] == "Looking it up."


async def test_stop_while_a_call_is_being_written_keeps_it_partial_as_every_tab_saw_it(connect, conversation, alice):
    """Stop cuts the model off halfway through a call's arguments: the reply ends with the call as
    far as every tab was shown it, marked partial; it never ran, a reload shows it, and the next
    prompt does not send it to the model."""
    _, sender = await connect(alice, conversation.id)
    _, other = await connect(alice, conversation.id)
    for socket in (sender, other):
        await socket.receive_until("conversation.snapshot")
    reply_id, shown = await send_stalled(sender)
    await sender.send(type="generation.stop")

    call = {"type": "tool_call", "id": shown[-1]["id"], "name": "held", "arguments": '{"note', "partial": True}
    kept = [{"type": "text", "text": "Looking it up."}, call]
    for socket in (sender, other):
        final = (await socket.receive_until("message.completed", timeout=20))[-1]["message"]
        assert (final["id"], final["status"], final["content"]) == (reply_id, "cancelled", "Looking it up.")
        assert final["parts"] == kept
    assert (await Message.objects.aget(id=reply_id)).parts == kept
    assert not Gate.started.is_set()  # the tool never ran

    _, late = await connect(alice, conversation.id)
    snapshot = (await late.receive_until("conversation.snapshot"))[-1]
    assert next(m for m in snapshot["messages"] if m["id"] == reply_id)["parts"] == kept

    await sender.send(
        type="message.send", content="!sim recall=1 tps=0 ttft=0\nWhat did the tool say?", request_id="r2"
    )
    follow_up = (await sender.receive_until("message.completed", timeout=20))[-1]["message"]
    assert follow_up["content"] == "No earlier tool calls."  # the simulator lists the calls it was sent
