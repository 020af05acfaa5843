"""One MCP server over streamable HTTP, through the official `mcp` SDK: list its tools, call one.

Each operation opens its own session: tool calls are rare next to streamed tokens, and a session
per call leaves nothing to go stale when a server restarts.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent
from mcp.types import Tool as McpTool


class McpToolError(Exception):
    """The server ran the tool and reported an error; its text goes back to the model."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    headers: dict[str, str] = field(default_factory=dict)


async def list_tools(endpoint: Endpoint, timeout: float) -> list[McpTool]:
    async with _session(endpoint, timeout) as session:
        return (await session.list_tools()).tools


async def call_tool(endpoint: Endpoint, name: str, arguments: dict[str, Any], timeout: float) -> str:
    async with _session(endpoint, timeout) as session:
        result = await session.call_tool(name, arguments)
    text = result_text(result)
    if result.isError:
        raise McpToolError(text or "the MCP tool reported an error")
    return text


def result_text(result: CallToolResult) -> str:
    """Text blocks as they are, structured content as JSON, other blocks named by their type."""
    if result.structuredContent is not None and not any(isinstance(c, TextContent) for c in result.content):
        return json.dumps(result.structuredContent, ensure_ascii=False)
    return "\n".join(c.text if isinstance(c, TextContent) else f"[{c.type} content]" for c in result.content)


@contextlib.asynccontextmanager
async def _session(endpoint: Endpoint, timeout: float) -> AsyncIterator[ClientSession]:
    """An initialised ClientSession on a fresh streamable HTTP connection, closed on exit."""
    client = httpx.AsyncClient(headers=endpoint.headers, timeout=httpx.Timeout(timeout))
    async with (
        client,
        streamable_http_client(endpoint.url, http_client=client) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session
