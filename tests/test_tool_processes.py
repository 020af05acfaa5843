"""Sync tools listed with `:process` (conversations/tools/processes.py), in real worker processes:
the ORM on the test database, errors, the timeout, a worker killed mid-call, results pickle refuses."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
from asgiref.sync import sync_to_async

from conversations.llm.base import ToolCall, ToolResult
from conversations.tools.processes import close_tool_processes
from conversations.tools.registry import load_tool
from conversations.tools.runner import run_call
from conversations.tools.schema import ToolContext
from tests.tool_fixtures import call_starts

pytestmark = [
    pytest.mark.django_db(transaction=True),  # a worker process sees committed rows only
    pytest.mark.usefixtures("close_thread_connections"),
]

HOLD = "tests.tool_fixtures.hold:process"


@pytest.fixture(autouse=True)
def one_worker(settings):
    """One worker, so a second call reaches the worker the first one used, if it is still alive."""
    settings.PARLEY_TOOL_PROCESSES = 1
    yield
    close_tool_processes()


async def run(entry: str, context: ToolContext | None = None, **arguments) -> ToolResult:
    tool = load_tool(entry)
    call = ToolCall("c1", tool.name, json.dumps(arguments))
    return await run_call(call, {tool.name: tool}, context or ToolContext(None, None))


async def reported(started: asyncio.Queue[int]) -> int:
    """The process id the next `hold` call reports (its report may land just after its answer)."""
    return await asyncio.wait_for(started.get(), 60)


async def test_an_orm_tool_in_a_worker_process_reads_the_test_database(alice, make_conversation):
    conversation = await sync_to_async(make_conversation)(alice, messages=[("user", "Hi"), ("assistant", "Hello")])
    result = await run("tests.tool_fixtures.count_elsewhere:process", ToolContext(alice.id, conversation.id))
    assert not result.is_error, result.content
    answer = json.loads(result.content)
    assert answer["messages"] == 2 and answer["pid"] != os.getpid()


async def test_workers_run_below_the_server_s_os_priority(settings):
    settings.PARLEY_TOOL_PROCESS_NICE = 5
    result = await run("tests.tool_fixtures.niceness:process")
    assert int(result.content) == min(19, os.nice(0) + 5)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"reason": "disk-on-fire"}, "The tool failed: RuntimeError: disk-on-fire"),
        ({"cause": "x"}, "The tool could not be called: broken() got an unexpected keyword argument 'cause'."),
    ],
)
async def test_a_tool_that_raises_in_its_worker_answers_with_the_error(arguments, error):
    result = await run("tests.tool_fixtures.broken:process", **arguments)
    assert result.is_error and result.content == error


async def test_a_call_past_the_timeout_is_reported_and_its_worker_interrupted(settings):
    done = ToolResult("c1", "hold", "done")
    async with call_starts() as (port, started):
        assert await run(HOLD, seconds=0, port=port) == done  # the one worker is up
        worker = await reported(started)
        settings.PARLEY_TOOL_TIMEOUT = 2
        late = await run(HOLD, seconds=600, port=port)
        assert late.is_error and late.content == "The tool did not answer within 2 seconds."
        assert await reported(started) == worker  # the late call did start
        settings.PARLEY_TOOL_TIMEOUT = 60  # the worker answers this only once the late call has let go
        assert await run(HOLD, seconds=0, port=port) == done
        assert await reported(started) == worker


async def test_a_worker_killed_mid_call_is_an_error_result_and_the_next_call_gets_a_new_one():
    async with call_starts() as (port, started):
        call = asyncio.ensure_future(run(HOLD, seconds=600, port=port))
        killed = await reported(started)
        os.kill(killed, signal.SIGKILL)
        result = await asyncio.wait_for(call, 30)
        assert result.is_error and "worker process ended before it answered" in result.content
        again = await run(HOLD, seconds=0, port=port)
        assert again == ToolResult("c1", "hold", "done")
        assert await reported(started) != killed


async def test_a_result_comes_back_as_the_same_text_as_from_a_thread_even_one_pickle_refuses():
    in_thread = await run("tests.tool_fixtures.odd_result")
    in_process = await run("tests.tool_fixtures.odd_result:process")
    assert in_process == in_thread
    assert json.loads(in_process.content) == {"value": "unpicklable", "when": "2024-05-01 12:00:00"}
