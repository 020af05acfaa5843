"""PostgreSQL stopped at a tool event: the reply carries on through its tool call, and its parts
are saved with it once the database answers (before, the failed parts save failed the reply)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.faults.watch import Watcher, saved_reply
from tests.servers import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TEXT_BEFORE_CALL = " ".join(f"w{n:04d}" for n in range(80))  # 4 s at 20 tokens/s: time to stop PostgreSQL
ASKS_A_TOOL = f'!sim tool=calculate:{{"expression":"6*7"}} echo=1 tps=20 ttft=0\n{TEXT_BEFORE_CALL}'
KINDS = ["text", "tool_call", "tool_result", "text"]


@pytest.fixture
def tool_server(fault_env) -> Iterator[ServerProcess]:
    server = ServerProcess({**fault_env, "PARLEY_TOOLS": "conversations.tools.examples.calculate"}).start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_database_outage_at_a_tool_event_fails_nothing_and_loses_no_part(database, tool_server, seed):
    cookie, (chat,) = seed(1)
    watcher = await Watcher.open(tool_server, chat, cookie)
    try:
        await watcher.socket.send(type="message.send", content=ASKS_A_TOOL, request_id="tools")
        await watcher.until(lambda: watcher.reply_id() is not None)
        reply_id = watcher.reply_id()
        await asyncio.to_thread(database.stop)
        assert not watcher.parts, "PostgreSQL took longer to stop than the text before the call took; lengthen it"

        # The call and its result reach the screen while the database is away.
        await watcher.until(lambda: [p["type"] for p in watcher.parts.get(reply_id, [])][:3] == KINDS[:3], 60)
        await asyncio.to_thread(database.start)

        await watcher.until(lambda: reply_id in watcher.completed, timeout=60)
        completed = watcher.completed[reply_id]
        expected = f"{TEXT_BEFORE_CALL}\n\nTool result: 42."
        assert (completed["status"], completed["content"], completed["error"]) == ("complete", expected, None)
        assert [part["type"] for part in completed["parts"]] == KINDS
        saved = await asyncio.to_thread(saved_reply, database.url, reply_id, "status", "content", "parts")
        assert saved == ("complete", expected, completed["parts"])
    finally:
        await watcher.close()
