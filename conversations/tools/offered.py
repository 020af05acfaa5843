"""Every tool a model is offered: the local functions of PARLEY_TOOLS and the registered MCP servers'
tools, for models the catalog flags `tools`."""

from __future__ import annotations

from ..mcp.toolbox import mcp_tools
from ..models import LLMModel
from .registry import Tool, configured_tools


async def offered_tools(model: LLMModel) -> dict[str, Tool]:
    if not model.tools:
        return {}
    return {**configured_tools(), **await mcp_tools()}
