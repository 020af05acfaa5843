"""Sync tools listed with `:process` in PARLEY_TOOLS run in a pool of worker processes, so their
Python work, and the garbage collections their allocations set off, hold another interpreter's GIL,
never the one the event loop needs (docs/performance.md, "A sync ORM tool beside 200 streams").

Workers are spawned, never forked (forking a process that has threads and a running loop is
unsafe), run at a lower OS priority so a shared core favours the streaming process, and set Django
up with the settings module of the environment they inherit and this process's database settings
as they are when the pool starts (a test database is renamed at run time). Each worker opens its
own connections. A call carries the tool's dotted path, JSON-shaped arguments and a ToolContext,
and comes back as text or a `ToolFailed`, so nothing a tool returns or raises has to survive pickling.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .results import as_text, failure

logger = logging.getLogger(__name__)
_pool: ProcessPoolExecutor | None = None


class ToolFailed(Exception):
    """A call that failed in or with its worker, as the text the model reads."""


def tool_processes() -> ProcessPoolExecutor:
    """The process's pool of tool workers, created on first use (a worker starts on its first call)."""
    global _pool
    if _pool is None:
        databases = copy.deepcopy(settings.DATABASES)
        _pool = ProcessPoolExecutor(
            max_workers=settings.PARLEY_TOOL_PROCESSES,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
            initargs=(databases, settings.PARLEY_TOOL_PROCESS_NICE),
        )
    return _pool


def close_tool_processes() -> None:
    """Stop the workers (at shutdown, and after tests). Calls still queued are dropped; one running
    is waited for, and its worker interrupts it at PARLEY_TOOL_TIMEOUT."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


async def in_worker(path: str, arguments: dict[str, Any], timeout: float) -> str:
    """The result text of one call run in a worker. A worker that dies (killed, crashed) fails the
    calls it and the pool had in hand; the next call starts a new pool."""
    global _pool
    pool = tool_processes()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, run_in_worker, path, arguments, timeout)
    except BrokenProcessPool:
        if _pool is pool:
            _pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        raise ToolFailed("The tool's worker process ended before it answered (killed or crashed).") from None


def start_worker(databases: dict[str, Any], nice: int) -> None:
    """Each worker's first step: lower priority, Ctrl-C left to the server, which stops the pool,
    and Django on the server's databases."""
    import django

    os.nice(nice)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _overran)
    settings.DATABASES = databases
    django.setup()


def run_in_worker(path: str, arguments: dict[str, Any], timeout: float) -> str:
    """One call, in a worker: Django's connection housekeeping around it, as in a tool thread, and
    an alarm at the timeout, so a call that overruns frees its worker instead of holding it."""
    from django.db import close_old_connections

    try:
        function = import_string(path)
        close_old_connections()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            value = function(**arguments)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            close_old_connections()
        return as_text(value)
    except Exception as error:
        logger.info("Tool %s raised", path, exc_info=True)
        raise ToolFailed(failure(error)) from None


def _overran(signum: int, frame: Any) -> None:
    raise TimeoutError("the call ran past PARLEY_TOOL_TIMEOUT and was interrupted")
