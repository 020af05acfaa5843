"""The registered MCP servers' tools as Parley tools, refreshed every PARLEY_MCP_REFRESH seconds.

A server that does not answer is reported once (a warning in the log, and `last_error` on its admin
page) and its tools are left out until it answers again; a reply never waits on it more than once
per refresh. Its tools are named `<server>__<tool>`, so two servers never collide.

When the database cannot be read at a refresh, the tools listed before are served (none, if there
were none yet) and the list is read again a few seconds later: a database blip must not fail the
replies that happen to start when the list expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from ..llm.base import ToolSpec
from ..models import McpServer
from ..tools.registry import Tool
from .client import Endpoint, call_tool, list_tools

logger = logging.getLogger(__name__)
SEPARATOR = "__"
UNREADABLE_RETRY = 5.0  # seconds before the servers are read again after the database failed to answer


class RemoteTool:
    """Calls one tool of one server; what a Parley `Tool` runs for an MCP tool."""

    def __init__(self, endpoint: Endpoint, name: str) -> None:
        self.endpoint, self.name = endpoint, name

    async def __call__(self, **arguments: Any) -> str:
        return await call_tool(self.endpoint, self.name, arguments, settings.PARLEY_MCP_TIMEOUT)


class Toolbox:
    """This process's view of the MCP servers: their tools, and which ones are down."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.expires = -1.0
        self.tools: dict[str, Tool] = {}
        self.down: set[str] = set()  # servers already reported as not answering
        self.refreshing: asyncio.Future | None = None  # the listing under way, if any

    async def current(self) -> dict[str, Tool]:
        """The tools, listed again when stale; replies that ask meanwhile share that one listing."""
        if self.clock() >= self.expires:
            if self.refreshing is None or self.refreshing.done():
                self.refreshing = asyncio.ensure_future(self.refresh())
            await asyncio.shield(self.refreshing)  # a stopped reply must not cancel the others' listing
        return self.tools

    async def refresh(self) -> None:
        try:
            servers = await sync_to_async(list)(McpServer.objects.filter(enabled=True))
        except DatabaseError as error:
            stale = len(self.tools)
            logger.warning("Could not read the MCP servers (%s); serving the %d tools listed before", error, stale)
            self.expires = self.clock() + min(settings.PARLEY_MCP_REFRESH, UNREADABLE_RETRY)
            return
        listed = await asyncio.gather(*(self._server_tools(server) for server in servers))
        self.tools = {name: tool for tools in listed for name, tool in tools.items()}
        self.expires = self.clock() + settings.PARLEY_MCP_REFRESH

    async def _server_tools(self, server: McpServer) -> dict[str, Tool]:
        endpoint = Endpoint(server.url, {str(k): str(v) for k, v in (server.headers or {}).items()})
        try:
            async with asyncio.timeout(settings.PARLEY_MCP_TIMEOUT):
                listed = await list_tools(endpoint, settings.PARLEY_MCP_TIMEOUT)
        except Exception as error:  # any failure to answer leaves the server's tools out
            await self._report_down(server, error)
            return {}
        await self._report_up(server)
        return {f"{server.name}{SEPARATOR}{t.name}": self._tool(server, endpoint, t) for t in listed}

    def _tool(self, server: McpServer, endpoint: Endpoint, listed: Any) -> Tool:
        name = f"{server.name}{SEPARATOR}{listed.name}"
        description = listed.description or f"{listed.name}, from the MCP server {server.name}."
        schema = listed.inputSchema or {"type": "object", "properties": {}}
        spec = ToolSpec(name, description, schema)
        return Tool(RemoteTool(endpoint, listed.name), spec, is_async=True, server=server.name)

    async def _report_down(self, server: McpServer, error: BaseException) -> None:
        detail = _describe(error)
        if server.name in self.down:
            return
        self.down.add(server.name)
        logger.warning(
            "MCP server %s (%s) is not answering; its tools are left out: %s", server.name, server.url, detail
        )
        await _save_status(server.pk, detail)

    async def _report_up(self, server: McpServer) -> None:
        if server.name in self.down or server.last_error:
            self.down.discard(server.name)
            logger.info("MCP server %s answers again", server.name)
            await _save_status(server.pk, "")


def _describe(error: BaseException) -> str:
    """The innermost cause: the SDK wraps connection errors in task-group exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


@sync_to_async
def _save_status(server_id: int, error: str) -> None:
    """Record a server's health for its admin page; a database that does not answer only costs the record."""
    try:
        McpServer.objects.filter(pk=server_id).update(last_error=error, last_checked_at=timezone.now())
    except DatabaseError as failure:
        logger.warning("Could not record the status of MCP server %s: %s", server_id, failure)


_toolbox = Toolbox()


async def mcp_tools() -> dict[str, Tool]:
    """The tools of every enabled MCP server that answers."""
    return await _toolbox.current()


def reset() -> None:
    """Forget what is cached (tests, and after an admin edits the servers)."""
    global _toolbox
    _toolbox = Toolbox()
