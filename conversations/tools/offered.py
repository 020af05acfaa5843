"""Every tool a model is offered: the local functions of PARLEY_TOOLS and the registered MCP servers'
tools, for models the catalog flags `tools`, narrowed to the model's `allowed_tools` when it names any.

An entry of `allowed_tools` is a tool's name as models see it (`calculate`, `files__read`) or
`mcp:<server>` for every tool of one MCP server. A model narrowed to local tools never waits on
an MCP server's listing.
"""

from __future__ import annotations

from ..mcp.toolbox import SEPARATOR, mcp_tools
from ..models import LLMModel
from .registry import Tool, configured_tools

SERVER_PREFIX = "mcp:"


async def offered_tools(model: LLMModel) -> dict[str, Tool]:
    if not model.tools:
        return {}
    allowed = set(model.allowed_tools or ())
    remote = await mcp_tools() if not allowed or any(_names_mcp(entry) for entry in allowed) else {}
    return narrowed({**configured_tools(), **remote}, allowed)


def narrowed(tools: dict[str, Tool], allowed: set[str]) -> dict[str, Tool]:
    """The tools `allowed` names, by name or by their MCP server; all of them when it names none."""
    if not allowed:
        return tools
    return {
        name: tool
        for name, tool in tools.items()
        if name in allowed or (tool.server and f"{SERVER_PREFIX}{tool.server}" in allowed)
    }


def server_entry(server_name: str) -> str:
    """The `allowed_tools` entry that offers every tool of one MCP server."""
    return f"{SERVER_PREFIX}{server_name}"


def _names_mcp(entry: str) -> bool:
    return entry.startswith(SERVER_PREFIX) or SEPARATOR in entry
