"""Anthropic's Messages API."""

from __future__ import annotations

from ..formats.anthropic_messages import AnthropicMessages
from ..streaming import StreamingProvider


class AnthropicProvider(StreamingProvider):
    name = "anthropic"
    wire = AnthropicMessages()
    default_base_url = "https://api.anthropic.com"
    default_model = "claude-3-5-haiku-latest"
