"""Running one tool call: arguments checked, sync functions on a bounded thread pool (or, listed
with `:process`, in a worker process: processes.py), a timeout, and every failure turned into a
result the model reads, so a tool never crashes a reply.

A sync tool runs in a thread with Django's connection housekeeping around it, as channels'
`database_sync_to_async` does, so ORM code works unchanged. A timed-out or stopped sync call cannot
be killed: its thread finishes in the background and its result is dropped (docs/tools.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

from ..llm.base import ToolCall, ToolResult
from .processes import ToolFailed, in_worker
from .registry import Tool
from .results import as_text, failure
from .schema import ToolContext

logger = logging.getLogger(__name__)
CLOSE_WAIT = 5.0  # seconds closing the pool waits for a thread still running a tool


@functools.cache
def tool_threads() -> ThreadPoolExecutor:
    """The process's pool for sync tools, created on first use."""
    return ThreadPoolExecutor(max_workers=settings.PARLEY_TOOL_THREADS, thread_name_prefix="parley-tool")


def close_tool_threads() -> None:
    """Close every pool thread's database connections, then the pool (at shutdown, and after tests).

    One job per thread, held at a barrier until all have started, so each thread runs exactly one;
    a thread still busy with a timed-out call is not waited for past CLOSE_WAIT.
    """
    if tool_threads.cache_info().currsize == 0:
        return
    pool, size = tool_threads(), settings.PARLEY_TOOL_THREADS
    barrier = threading.Barrier(size)

    def close_here() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=CLOSE_WAIT)
        connections.close_all()

    concurrent.futures.wait([pool.submit(close_here) for _ in range(size)], timeout=CLOSE_WAIT * 2)
    pool.shutdown(wait=False, cancel_futures=True)
    tool_threads.cache_clear()


async def run_call(call: ToolCall, tools: dict[str, Tool], context: ToolContext) -> ToolResult:
    """Run one call the model asked for; whatever happens, a result to send back."""
    tool = tools.get(call.name)
    if tool is None:
        return _error(call, f"There is no tool named {call.name!r}; the tools are: {', '.join(tools) or 'none'}.")
    try:
        arguments = json.loads(call.arguments)
    except ValueError:
        return _error(call, f"The arguments are not valid JSON: {call.arguments[:200]!r}.")
    if not isinstance(arguments, dict):
        return _error(call, "The arguments must be a JSON object.")
    if tool.context_param:
        arguments[tool.context_param] = context
    timeout = settings.PARLEY_TOOL_TIMEOUT
    try:
        async with asyncio.timeout(timeout):
            if tool.in_process:
                value = await in_worker(tool.path, arguments, timeout)
            else:
                value = await (tool.function(**arguments) if tool.is_async else _in_thread(tool, arguments))
    except TimeoutError:
        return _error(call, f"The tool did not answer within {timeout:g} seconds.")
    except ToolFailed as error:
        return _error(call, str(error))
    except Exception as error:
        logger.info("Tool %s raised", call.name, exc_info=True)
        return _error(call, failure(error))
    return ToolResult(call.id, call.name, _text(value))


async def _in_thread(tool: Tool, arguments: dict[str, Any]) -> Any:
    return await sync_to_async(_with_fresh_connections, thread_sensitive=False, executor=tool_threads())(
        tool, arguments
    )


def _with_fresh_connections(tool: Tool, arguments: dict[str, Any]) -> Any:
    close_old_connections()
    try:
        return tool.function(**arguments)
    finally:
        close_old_connections()


def _text(value: Any) -> str:
    """A result as the model reads it (results.py), long ones cut."""
    text = as_text(value)
    limit = settings.PARLEY_TOOL_RESULT_MAX
    if len(text) > limit:
        text = text[:limit] + f"\n[truncated: the result had {len(text)} characters, {limit} are shown]"
    return text


def _error(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(call.id, call.name, message, is_error=True)
