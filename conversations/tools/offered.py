"""Every tool a model is offered: the local functions of PARLEY_TOOLS, for models the catalog flags `tools`."""

from __future__ import annotations

from ..models import LLMModel
from .registry import Tool, configured_tools


async def offered_tools(model: LLMModel) -> dict[str, Tool]:
    if not model.tools:
        return {}
    return configured_tools()
