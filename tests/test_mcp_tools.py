"""MCP servers as tool sources, against a real MCP server built with the same SDK in a process of its own:
its tools are offered and called like local ones, its errors reach the model, and a server that goes
away (before a reply, or in the middle of one) is reported once and its tools are left out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import OperationalError, connection

from conversations import generation
from conversations.mcp import toolbox
from conversations.models import Conversation, McpServer, Message
from tests.servers import ROOT, free_port

pytestmark = pytest.mark.django_db(transaction=True)
READY_TIMEOUT = 20.0


class McpProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.process = subprocess.Popen([sys.executable, "-m", "tests.mcp_server", str(self.port)], cwd=ROOT)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:  # until the server accepts connections (any HTTP answer will do)
            try:
                httpx.get(self.url, timeout=1.0)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the test MCP server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def mcp_server(settings):
    settings.PARLEY_TOOLS = []  # only the MCP server's tools; the simulator's catalog model is flagged `tools`
    toolbox.reset()
    process = McpProcess()
    yield process
    process.stop()
    toolbox.reset()


@sync_to_async
def register(url: str, name: str = "calc") -> McpServer:
    return McpServer.objects.create(name=name, url=url)


@sync_to_async
def reload(model, pk):
    return model.objects.get(pk=pk)


async def ask(worker, user, content: str, request_id: str = "r1") -> Message:
    conversation = await Conversation.objects.acreate(owner=user, title="MCP")
    started = await generation.start(user=user, conversation_id=conversation.id, content=content, request_id=request_id)
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 30)
    return await reload(Message, started.reply.id)


async def test_an_mcp_servers_tools_are_offered_and_called(worker, alice, mcp_server):
    await register(mcp_server.url)
    tools = await toolbox.mcp_tools()
    assert {"calc__add", "calc__refuse", "calc__linger"} <= set(tools)
    spec = tools["calc__add"].spec
    assert spec.description == "Add two whole numbers."
    assert spec.parameters["properties"]["a"]["type"] == "integer" and spec.parameters["required"] == ["a", "b"]

    reply = await ask(worker, alice, '!sim tool=calc__add:{"a":2,"b":40} tps=0 ttft=0\nAdd them')
    assert reply.status == Message.Status.COMPLETE
    assert reply.parts[1] == {
        "type": "tool_result",
        "call_id": reply.parts[0]["id"],
        "name": "calc__add",
        "content": "42",
        "is_error": False,
    }
    assert reply.content == "Tool result: 42."


async def test_an_mcp_tools_error_goes_back_to_the_model(worker, alice, mcp_server):
    await register(mcp_server.url)
    reply = await ask(worker, alice, '!sim tool=calc__refuse:{"reason":"no-way"} tps=0 ttft=0\nGo')
    assert reply.status == Message.Status.COMPLETE
    assert reply.parts[1]["is_error"] and "no-way" in reply.parts[1]["content"]


async def test_a_server_going_away_mid_reply_becomes_an_error_result(worker, alice, mcp_server, tmp_path, settings):
    """Killed mid-call, the server's broken response stream ends the call at once (not at the tool
    timeout, which is set far beyond the wait here): the model is told and the reply completes."""
    settings.PARLEY_TOOL_TIMEOUT = 600
    await register(mcp_server.url)
    conversation = await Conversation.objects.acreate(owner=alice, title="MCP")
    marker = tmp_path / "called"
    content = f'!sim tool=calc__linger:{{"seconds":60,"marker":"{marker}"}} tps=0 ttft=0\nWait'
    started = await generation.start(user=alice, conversation_id=conversation.id, content=content, request_id="r1")
    running = worker.running[str(started.reply.id)]
    while not marker.exists():  # noqa: ASYNC110  (the server is running the call)
        await asyncio.sleep(0.01)
    mcp_server.stop()
    await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 30)
    reply = await reload(Message, started.reply.id)
    assert reply.status == Message.Status.COMPLETE
    assert [p["type"] for p in reply.parts] == ["tool_call", "tool_result", "text"]
    assert reply.parts[1]["is_error"] and reply.parts[1]["content"] in reply.content
    assert "McpServerLost: the MCP server closed the connection before answering" in reply.parts[1]["content"]


async def test_a_server_that_is_down_is_reported_once_and_its_tools_left_out(
    worker, alice, mcp_server, settings, caplog
):
    server = await register(mcp_server.url)
    settings.PARLEY_MCP_REFRESH = 0  # list again for every reply
    settings.PARLEY_MCP_TIMEOUT = 3
    mcp_server.stop()
    with caplog.at_level(logging.WARNING, logger="conversations.mcp.toolbox"):
        for request_id in ("r1", "r2"):
            reply = await ask(worker, alice, "!sim tool=calc__add:{} tokens=3 tps=0 ttft=0\nHi", request_id)
            assert reply.status == Message.Status.COMPLETE and [p["type"] for p in reply.parts] == ["text"]
    warnings = [r for r in caplog.records if "calc" in r.getMessage() and "not answering" in r.getMessage()]
    assert len(warnings) == 1
    assert (await reload(McpServer, server.pk)).last_error


class McpTableDown:
    """An execute wrapper failing the statements that read the MCP servers while `down`: a database
    blip exactly when the toolbox's list expires (the reply's own rows were written just before)."""

    def __init__(self) -> None:
        self.down = False
        self.failures = 0

    def __call__(self, execute, sql, params, many, context):
        if self.down and McpServer._meta.db_table in sql:
            self.failures += 1
            raise OperationalError("server closed the connection unexpectedly (injected)")
        return execute(sql, params, many, context)


@pytest.fixture
async def mcp_table_down():
    """Installed on the thread that runs the worker's database calls, as tests/test_final_save.py does."""
    injected, stack = McpTableDown(), contextlib.ExitStack()
    await database_sync_to_async(lambda: stack.enter_context(connection.execute_wrapper(injected)))()
    yield injected
    injected.down = False
    await database_sync_to_async(stack.close)()


async def test_a_database_blip_when_the_list_expires_serves_the_tools_listed_before(
    worker, alice, mcp_server, mcp_table_down, settings, caplog
):
    await register(mcp_server.url)
    settings.PARLEY_MCP_REFRESH = 0  # the list expires before every reply
    add = '!sim tool=calc__add:{"a":2,"b":40} tps=0 ttft=0\nAdd them'
    assert (await ask(worker, alice, add, "listed")).content == "Tool result: 42."
    mcp_table_down.down = True
    with caplog.at_level(logging.WARNING, logger="conversations.mcp.toolbox"):
        reply = await ask(worker, alice, add, "during-the-blip")
    assert mcp_table_down.failures  # the list was read again, and the read failed
    assert (reply.status, reply.content) == (Message.Status.COMPLETE, "Tool result: 42.")
    assert any("Could not read the MCP servers" in record.getMessage() for record in caplog.records)


async def test_a_database_blip_before_any_list_offers_no_mcp_tools_and_the_reply_completes(
    worker, alice, mcp_server, mcp_table_down
):
    await register(mcp_server.url)
    mcp_table_down.down = True
    reply = await ask(worker, alice, "!sim tool=calc__add:{} tokens=3 tps=0 ttft=0\nHi")
    assert mcp_table_down.failures
    assert reply.status == Message.Status.COMPLETE and [p["type"] for p in reply.parts] == ["text"]
