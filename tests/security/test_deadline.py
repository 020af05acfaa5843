"""An upstream that never finishes cannot hold a generation forever: PARLEY_GENERATION_DEADLINE ends it.

`drip` sends one byte at a time after the first token, which defeats any per-read timeout; only
the total budget stops it: the dripped reply would take minutes, and the test waits 15 s. The
reply ends `failed`, keeps its text, and says it took too long.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async

from conversations.models import Message


async def test_a_dripping_upstream_fails_at_the_deadline_with_its_text_kept(connect, conversation, alice, settings):
    settings.PARLEY_GENERATION_DEADLINE = 2
    settings.LLM_IDLE_TIMEOUT = 60  # so only the deadline can end it
    _, socket = await connect(alice, conversation.id)
    await socket.receive()
    await socket.send(type="message.send", content="!sim tokens=50 tps=0 ttft=0 drip=0.5", request_id="d1")
    frames = await socket.receive_until("message.completed", timeout=15)
    final = frames[-1]["message"]
    assert final["status"] == "failed"
    assert final["content"], "the text received before the deadline is kept"
    assert "took longer" in final["error"]
    saved = await sync_to_async(Message.objects.get)(id=final["id"])
    assert (saved.status, saved.content, saved.error) == ("failed", final["content"], final["error"])
