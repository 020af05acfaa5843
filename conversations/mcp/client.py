"""One MCP server over streamable HTTP, through the official `mcp` SDK: list its tools, call one.

Each operation opens its own session: tool calls are rare next to streamed tokens, and a session
per call leaves nothing to go stale when a server restarts.

A server that dies mid-call breaks the response stream of the request it was answering; the SDK
logs that and keeps waiting for an answer that cannot come. Parley's httpx transport (the SDK takes
our httpx client) notices the broken stream and ends the operation at once with `McpServerLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent
from mcp.types import Tool as McpTool

T = TypeVar("T")


class McpToolError(Exception):
    """The server ran the tool and reported an error; its text goes back to the model."""


class McpServerLost(Exception):
    """The server's answer broke off (it died or dropped the connection) before the operation ended."""

    def __init__(self) -> None:
        super().__init__("the MCP server closed the connection before answering")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    headers: dict[str, str] = field(default_factory=dict)


async def list_tools(endpoint: Endpoint, timeout: float) -> list[McpTool]:
    lost = asyncio.Event()
    return await _unless_lost(_listed(endpoint, timeout, lost), lost)


async def call_tool(endpoint: Endpoint, name: str, arguments: dict[str, Any], timeout: float) -> str:
    lost = asyncio.Event()
    result = await _unless_lost(_called(endpoint, name, arguments, timeout, lost), lost)
    text = result_text(result)
    if result.isError:
        raise McpToolError(text or "the MCP tool reported an error")
    return text


def result_text(result: CallToolResult) -> str:
    """Text blocks as they are, structured content as JSON, other blocks named by their type."""
    if result.structuredContent is not None and not any(isinstance(c, TextContent) for c in result.content):
        return json.dumps(result.structuredContent, ensure_ascii=False)
    return "\n".join(c.text if isinstance(c, TextContent) else f"[{c.type} content]" for c in result.content)


async def _listed(endpoint: Endpoint, timeout: float, lost: asyncio.Event) -> list[McpTool]:
    async with _session(endpoint, timeout, lost) as session:
        return (await session.list_tools()).tools


async def _called(
    endpoint: Endpoint, name: str, arguments: dict[str, Any], timeout: float, lost: asyncio.Event
) -> CallToolResult:
    async with _session(endpoint, timeout, lost) as session:
        return await session.call_tool(name, arguments)


async def _unless_lost(operation: Awaitable[T], lost: asyncio.Event) -> T:
    """The operation's result, or McpServerLost as soon as a response stream broke off before it."""
    work, watch = asyncio.ensure_future(operation), asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)  # its session closes before we go on
    if work.cancelled():
        raise McpServerLost
    return work.result()


class WatchedTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, with each POST's response body watched: when one breaks off (or an
    event stream ends) while the SDK still reads it, no answer will come on it, and `lost` is set."""

    def __init__(self, lost: asyncio.Event) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lost = lost

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            event_stream = response.headers.get("content-type", "").startswith("text/event-stream")
            response.stream = WatchedBody(response.stream, self.lost, event_stream)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class WatchedBody(httpx.AsyncByteStream):
    def __init__(self, body: httpx.AsyncByteStream, lost: asyncio.Event, event_stream: bool) -> None:
        self.body, self.lost, self.event_stream = body, lost, event_stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.body:
                yield chunk
        except httpx.TransportError:
            self.lost.set()
            raise
        if self.event_stream:  # the SDK stops reading at its answer, so reaching the end means none came
            self.lost.set()

    async def aclose(self) -> None:
        await self.body.aclose()


@contextlib.asynccontextmanager
async def _session(endpoint: Endpoint, timeout: float, lost: asyncio.Event) -> AsyncIterator[ClientSession]:
    """An initialised ClientSession on a fresh streamable HTTP connection, closed on exit."""
    client = httpx.AsyncClient(
        headers=endpoint.headers, timeout=httpx.Timeout(timeout), transport=WatchedTransport(lost)
    )
    async with (
        client,
        streamable_http_client(endpoint.url, http_client=client) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session
