"""OpenAI, and any server speaking its Chat Completions API (vLLM, llama.cpp, LM Studio, ...)."""

from __future__ import annotations

from ..formats.chat_completions import ChatCompletions
from ..streaming import StreamingProvider


class OpenAIProvider(StreamingProvider):
    name = "openai"
    wire = ChatCompletions()
    default_base_url = "https://api.openai.com/v1"
    default_model = "gpt-4o-mini"
