"""A local Ollama server through its native NDJSON chat endpoint."""

from __future__ import annotations

from ..formats.ollama_ndjson import OllamaNDJSON
from ..streaming import StreamingProvider


class OllamaProvider(StreamingProvider):
    name = "ollama"
    wire = OllamaNDJSON()
    default_base_url = "http://localhost:11434"
    default_model = "llama3.2"
