"""A real MCP server built with the official SDK, for the MCP tests: `python -m tests.mcp_server PORT`.

It serves streamable HTTP at /mcp, as a deployment's MCP server would.
"""

from __future__ import annotations

import sys

import anyio
import uvicorn
from mcp.server.fastmcp import FastMCP

server = FastMCP("parley-test-tools", host="127.0.0.1", stateless_http=True)


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def refuse(reason: str) -> str:
    """Always fail, with the given reason."""
    raise ValueError(reason)


@server.tool()
async def linger(seconds: float, marker: str = "") -> str:
    """Answer after a while; touch `marker` (a file path) first, so a test knows the call arrived."""
    if marker:
        await anyio.Path(marker).touch()
    await anyio.sleep(seconds)
    return "lingered"


if __name__ == "__main__":
    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
